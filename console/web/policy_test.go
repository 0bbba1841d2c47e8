package web

import (
	"regexp"
	"strings"
	"testing"
)

// xmlNamespaces are the only absolute URLs an asset may hold: names, never
// fetched.
var xmlNamespaces = map[string]bool{"http://www.w3.org/2000/svg": true, "http://www.w3.org/1999/xhtml": true}

type pattern struct {
	re   *regexp.Regexp
	what string
}

var (
	absoluteURL = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s'"()<>]*`)
	// externalPatterns find references to another origin besides
	// absolute URLs: protocol-relative and scheme URLs in attributes and
	// url(), CSS imports and fonts.
	externalPatterns = []pattern{
		{regexp.MustCompile(`(?i)\b(?:src|href|action|srcset|poster)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//|\\\\)`), "an attribute with a URL that is not a path"},
		{regexp.MustCompile(`(?i)url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)`), "url() with another origin"},
		{regexp.MustCompile(`(?i)@import`), "@import"},
		{regexp.MustCompile(`(?i)@font-face`), "a web font"},
		{regexp.MustCompile("[\"'`]//[^/\\s]"), "a protocol-relative URL"},
	}
	// sinkPatterns find the DOM's HTML parsing sinks and code from
	// strings: forbidden outright in the JS, data or not.
	sinkPatterns = []pattern{
		{regexp.MustCompile(`\binnerHTML\b`), "innerHTML"},
		{regexp.MustCompile(`\bouterHTML\b`), "outerHTML"},
		{regexp.MustCompile(`\binsertAdjacentHTML\b`), "insertAdjacentHTML"},
		{regexp.MustCompile(`\bdocument\s*\.\s*write(?:ln)?\b`), "document.write"},
		{regexp.MustCompile(`\bcreateContextualFragment\b`), "createContextualFragment"},
		{regexp.MustCompile(`\bDOMParser\b`), "DOMParser"},
		{regexp.MustCompile(`\b(?:set|parse)HTMLUnsafe\b`), "setHTMLUnsafe"},
		{regexp.MustCompile(`\bsrcdoc\s*=`), "srcdoc"},
		{regexp.MustCompile(`\beval\s*\(`), "eval"},
		{regexp.MustCompile(`\bnew\s+Function\b`), "new Function"},
		{regexp.MustCompile("\\bset(?:Timeout|Interval)\\s*\\(\\s*[\"'`]"), "a timer with code in a string"},
		{regexp.MustCompile("\\.setAttribute\\(\\s*[\"'`](?:on|style)"), "an event handler or style attribute"},
		{regexp.MustCompile(`\.style\s*\.\s*cssText`), "an inline style"},
		{regexp.MustCompile(`(?i)javascript:`), "a javascript: URL"},
	}
	// inlinePatterns find what the CSP would refuse in index.html.
	inlinePatterns = []pattern{
		{regexp.MustCompile(`(?i)\sstyle\s*=`), "a style attribute"},
		{regexp.MustCompile(`(?i)<style\b`), "a style element"},
		{regexp.MustCompile(`(?i)\son[a-z]+\s*=`), "an event handler attribute"},
		{regexp.MustCompile(`(?i)javascript:`), "a javascript: URL"},
		{regexp.MustCompile(`(?i)http-equiv`), "a meta http-equiv (the policy is a header)"},
	}
	scriptElement = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
)

// externalRefs returns the references to another origin in an asset.
func externalRefs(text string) []string {
	var out []string
	for _, u := range absoluteURL.FindAllString(text, -1) {
		if !xmlNamespaces[u] {
			out = append(out, "absolute URL "+u)
		}
	}
	for _, p := range externalPatterns {
		if m := p.re.FindString(text); m != "" {
			out = append(out, p.what+": "+m)
		}
	}
	return out
}

// htmlSinks returns the forbidden sinks in a JS file, comments aside.
func htmlSinks(js string) []string {
	text := stripJSComments(js)
	var out []string
	for _, p := range sinkPatterns {
		if m := p.re.FindString(text); m != "" {
			out = append(out, p.what+": "+m)
		}
	}
	return out
}

// inlineCode returns what in an HTML page needs inline script or style.
func inlineCode(html string) []string {
	var out []string
	for _, m := range scriptElement.FindAllStringSubmatch(html, -1) {
		if strings.TrimSpace(m[2]) != "" {
			out = append(out, "inline script: "+m[2])
		}
		if !strings.Contains(m[1], `src="/assets/{{version}}/`) {
			out = append(out, "a script not from the assets: <script"+m[1]+">")
		}
	}
	for _, p := range inlinePatterns {
		if m := p.re.FindString(html); m != "" {
			out = append(out, p.what+": "+m)
		}
	}
	return out
}

// TestNoExternalOrigin: nothing is loaded from another origin (no CDN, no
// web fonts, no analytics).
func TestNoExternalOrigin(t *testing.T) {
	for _, name := range append(assetNames(t), "index.html") {
		for _, bad := range externalRefs(readStatic(t, name)) {
			t.Errorf("%s: %s", name, bad)
		}
	}
}

// TestIndexHasNoInlineCode: the CSP forbids inline scripts and styles;
// index.html must not need them.
func TestIndexHasNoInlineCode(t *testing.T) {
	index := readStatic(t, "index.html")
	if len(scriptElement.FindAllString(index, -1)) == 0 {
		t.Fatal("index.html loads no script")
	}
	for _, bad := range inlineCode(index) {
		t.Errorf("index.html: %s", bad)
	}
}

// TestNoHTMLSinks: the application never parses HTML nor evaluates code
// from strings, so no server text can become markup or script (the
// fake-DOM tests of testdata/dom.test.js check the rendering itself).
func TestNoHTMLSinks(t *testing.T) {
	for _, name := range assetNames(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, bad := range htmlSinks(readStatic(t, name)) {
			t.Errorf("%s uses %s", name, bad)
		}
	}
}

// TestPolicyCheckers: the checks above do catch what they look for.
func TestPolicyCheckers(t *testing.T) {
	for _, s := range []string{
		`<script src="https://cdn.example/x.js"></script>`,
		`<link href="//fonts.example/css">`,
		`body { background: url( "//img.example/a.png") }`,
		`@import "x.css";`,
		`@font-face { font-family: x; src: local(x) }`,
		`fetch('//api.example/x')`,
		`import x from 'http://esm.example/x.js'`,
		`<a href=data:text/html,x>`,
	} {
		if len(externalRefs(s)) == 0 {
			t.Errorf("externalRefs(%q) found nothing", s)
		}
	}
	for _, s := range []string{"<a href=\"/x\">", `url(./a.svg)`, `xmlns="http://www.w3.org/2000/svg"`, `// a comment`, `'/api/me'`} {
		if bad := externalRefs(s); len(bad) != 0 {
			t.Errorf("externalRefs(%q) = %q", s, bad)
		}
	}
	for _, s := range []string{
		"el.innerHTML = a.message", "el.outerHTML=x", "el.insertAdjacentHTML('beforeend', s)", "document.write(s)",
		"document .writeln(s)", "new DOMParser()", "eval(s)", "new Function('return 1')", "setTimeout('x()', 1)",
		"el.setAttribute('onclick', s)", "el.setAttribute(\"style\", s)", "el.style.cssText = s", "a.href = 'javascript:void 0'",
		"range.createContextualFragment(s)", "el.setHTMLUnsafe(s)",
	} {
		if len(htmlSinks(s)) == 0 {
			t.Errorf("htmlSinks(%q) found nothing", s)
		}
	}
	for _, s := range []string{"el.textContent = s", "// innerHTML is forbidden", "/* eval( */", "setTimeout(fn, 1)", "el.setAttribute('title', s)"} {
		if bad := htmlSinks(s); len(bad) != 0 {
			t.Errorf("htmlSinks(%q) = %q", s, bad)
		}
	}
	for _, s := range []string{
		`<script>alert(1)</script>`, `<script src="https://x/y.js"></script>`, `<div style="color:red">`,
		`<style>p{}</style>`, `<body onload="x()">`, `<meta http-equiv="Content-Security-Policy" content="x">`,
	} {
		if len(inlineCode(s)) == 0 {
			t.Errorf("inlineCode(%q) found nothing", s)
		}
	}
	if bad := inlineCode(`<script type="module" src="/assets/{{version}}/app.js"></script><div class="x">`); len(bad) != 0 {
		t.Errorf("inlineCode of a clean page = %q", bad)
	}
}

// stripJSComments drops // and /* */ comments outside strings (well
// enough for these files, whose comments may name the forbidden sinks).
func stripJSComments(s string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
			b.WriteByte(c)
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestStripJSComments(t *testing.T) {
	in := "a // innerHTML\nb /* eval( */ c 'x // y' \"/* z */\" `//`"
	if got, want := stripJSComments(in), "a \nb  c 'x // y' \"/* z */\" `//`"; got != want {
		t.Errorf("stripJSComments = %q, want %q", got, want)
	}
}
