// Package link detects links to hosts outside the tenant's allowlist
// (link.external): http(s) URLs, www. addresses and bare domains with a known
// top-level domain (taobao.com/abc, t.cn/xyz, bit.ly/…).
//
// The allowlist, the URL shorteners and the top-level domains live in
// lexicon.yaml (embedded). Allowlists are per tenant: a tenant ships its own
// lexicon file in its policy bundle (New), or adds hosts to a detector
// (WithAllow). A host is allowed when it equals an allowed host or is a
// subdomain of one on a dot boundary, so evil-taobao.com is not taobao.com
// but m.taobao.com is. Shortened links hide their target and get the
// shortener entry's severity (high by default). Emails (john@gmail.com) are
// the privacy detector's business, not links; dotted numbers without a
// scheme (1.2.3.4, version 2.0.1) are not links either.
package link

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/lexdetect"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Name is the detector family in the taxonomy.
const Name = "link"

// Kinds returns the taxonomy kinds of the link family, the second half of
// its findings' names: part of the public API (DESIGN.md, the schemas).
// Lexicon entries must be of one of them. Each call returns a new slice.
func Kinds() []string {
	return []string{"external"}
}

// Set names and entry ids the detector reads from the lexicon.
const (
	setAllow = "allow_host"
	setTLD   = "tld"
	idURL    = "external.url"
)

// Detector finds link.external. It is immutable after New and safe for
// concurrent use.
type Detector struct {
	lexdetect.Base
	tlds    map[string]bool // top-level domains that make a bare name a link
	allow   []string        // allowed hosts, lower case, no leading dot
	hosts   []hostEntry     // hosts named by entries (shorteners), longest first
	def     entryInfo       // the entry of any other external link
	version string
}

type entryInfo struct {
	id    string
	sev   detectors.Severity
	score float64
}

type hostEntry struct {
	host string
	entryInfo
}

var _ detectors.Detector = (*Detector)(nil)

// New builds the detector from a lexicon file (the default one or a tenant's
// from a policy bundle). Entries must be of kind external: an entry's terms
// that are host names (bit.ly) give links to those hosts and their
// subdomains the entry's severity; the entry external.url (or, without it,
// severity medium and score 0.8) rates every other external link. The set
// allow_host lists the allowed hosts and the set tld the top-level domains
// that make a bare name.tld a link.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	d := &Detector{Base: b, def: entryInfo{id: idURL, sev: detectors.Medium, score: 0.8}}
	for _, e := range b.Lexicon().File().Entries { // compiled copy: scores defaulted
		info := entryInfo{id: e.ID, sev: e.Severity, score: e.Score}
		if e.ID == idURL {
			d.def = info
		}
		for _, t := range e.Terms {
			if h, err := cleanHost(t); err == nil && strings.Contains(h, ".") {
				d.hosts = append(d.hosts, hostEntry{host: h, entryInfo: info})
			}
		}
	}
	sort.SliceStable(d.hosts, func(i, j int) bool { return len(d.hosts[i].host) > len(d.hosts[j].host) })
	var errs []error
	for _, h := range f.Sets[setAllow] {
		c, err := cleanHost(h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.allow = append(d.allow, c)
	}
	d.tlds = make(map[string]bool, len(f.Sets[setTLD]))
	for _, t := range f.Sets[setTLD] {
		t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "."))
		if t == "" || strings.Trim(t, "abcdefghijklmnopqrstuvwxyz") != "" {
			errs = append(errs, fmt.Errorf("tld %q: want letters only", t))
			continue
		}
		d.tlds[t] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	d.version = b.Version()
	return d, nil
}

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded(Name, defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded(Name, defaultLexicon, New) }

// WithAllow returns a detector whose allowlist also holds hosts (and their
// subdomains). d is not changed. A host may be given as a URL
// ("https://shop.example.com/x") or with a leading "*." or "."; it must be
// an ASCII host name (punycode for internationalized names).
func (d *Detector) WithAllow(hosts []string) (*Detector, error) {
	nd := *d
	nd.allow = slices.Clone(d.allow)
	var errs []error
	for _, h := range hosts {
		c, err := cleanHost(h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nd.allow = append(nd.allow, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("link: allow: %w", err)
	}
	sum := sha256.Sum256([]byte(strings.Join(nd.allow, "\n")))
	nd.version = d.Base.Version() + "+" + hex.EncodeToString(sum[:4])
	return &nd, nil
}

// Version returns the lexicon's content hash; a detector from WithAllow
// appends a hash of its allowlist. It takes the place of the embedded
// Base's Version, which is the lexicon's hash alone.
func (d *Detector) Version() string { return d.version }

// Allowed reports whether host (lower case) is an allowed host or a
// subdomain of one.
func (d *Detector) Allowed(host string) bool {
	for _, a := range d.allow {
		if underDomain(host, a) {
			return true
		}
	}
	return false
}

// Detect appends a link.external finding for every link in t whose host is
// not allowed.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	norm := t.Norm
	if !maybeURL(norm) {
		return dst
	}
	for i := 0; i < len(norm); {
		if !isHostByte(norm[i]) || i > 0 && (isHostByte(norm[i-1]) || norm[i-1] == '.') {
			i++
			continue
		}
		s, e, host, ok := d.next(norm, i)
		i = max(e, i+1)
		if !ok || host == "" || d.Allowed(host) {
			continue
		}
		info := d.def
		for _, h := range d.hosts {
			if underDomain(host, h.host) {
				info = h.entryInfo
				break
			}
		}
		f := detectors.At(t, Name, "external", info.sev, info.score, s, e)
		f.Lexicon = info.id
		dst = append(dst, f)
	}
	return dst
}

// next parses the link, if any, whose scheme or host name starts at byte i
// of norm (at the start of a run of host characters). It returns the link's
// span and host, or ok false and the end of the run to skip.
func (d *Detector) next(norm string, i int) (s, e int, host string, ok bool) {
	j := i
	for j < len(norm) && (isHostByte(norm[j]) || norm[j] == '.') {
		j++
	}
	run := norm[i:j]
	if (run == "http" || run == "https") && strings.HasPrefix(norm[j:], "://") {
		// http(s)://[user@]host[:port][/path]
		k := j + 3
		a := k
		for a < len(norm) && isURLByte(norm[a]) && norm[a] != '/' && norm[a] != '?' && norm[a] != '#' {
			a++
		}
		host = hostOf(norm[k:a])
		e = trimURL(norm, i, pathEnd(norm, a))
		return i, e, host, e > k
	}
	if i > 0 && norm[i-1] == '@' || j < len(norm) && norm[j] == '@' {
		return 0, j, "", false // an email, not a link
	}
	h := strings.TrimRight(run, ".-")
	dot := strings.LastIndexByte(h, '.')
	if dot <= 0 || !validHost(h) {
		return 0, j, "", false
	}
	if !strings.HasPrefix(h, "www.") && !d.tlds[h[dot+1:]] {
		return 0, j, "", false
	}
	e = i + len(h)
	if e == j { // nothing trimmed: a port or a path may follow
		if e+1 < len(norm) && norm[e] == ':' && '0' <= norm[e+1] && norm[e+1] <= '9' {
			e++
			for e < len(norm) && '0' <= norm[e] && norm[e] <= '9' {
				e++
			}
		}
		if e < len(norm) && (norm[e] == '/' || norm[e] == '?' || norm[e] == '#') {
			e = trimURL(norm, i, pathEnd(norm, e))
		}
	}
	return i, e, h, true
}

// pathEnd returns the end of the run of URL characters from i.
func pathEnd(norm string, i int) int {
	for i < len(norm) && isURLByte(norm[i]) {
		i++
	}
	return i
}

// validHost reports whether h is dot-separated non-empty labels of letters,
// digits and inner dashes.
func validHost(h string) bool {
	start := 0
	for k := 0; k <= len(h); k++ {
		if k < len(h) && h[k] != '.' {
			if h[k] == '_' {
				return false
			}
			continue
		}
		if k == start || h[start] == '-' || h[k-1] == '-' {
			return false
		}
		start = k + 1
	}
	return true
}

// maybeURL is a cheap prefilter: every link has "://" or a dot followed by
// a letter or digit (a sentence's ". " does not count). The normalizer folds
// the dots of an IP address away (192.168.1.10 → 192168110), so only the
// scheme reveals such a link.
func maybeURL(norm string) bool {
	if strings.Contains(norm, "://") {
		return true
	}
	for i := strings.IndexByte(norm, '.'); i >= 0 && i+1 < len(norm); {
		if c := norm[i+1]; 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			return true
		}
		j := strings.IndexByte(norm[i+1:], '.')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// trimURL drops trailing punctuation that ends the sentence rather than the
// URL, and a closing bracket without its opening one.
func trimURL(norm string, s, e int) int {
	for e > s {
		switch norm[e-1] {
		case '.', ',', ';', ':', '!', '?', '\'', '*':
			e--
			continue
		case ')':
			if !strings.Contains(norm[s:e], "(") {
				e--
				continue
			}
		case ']':
			if !strings.Contains(norm[s:e], "[") {
				e--
				continue
			}
		}
		break
	}
	return e
}

// hostOf returns the host of the URL u (lower case): no scheme, user info,
// port, path or trailing dot.
func hostOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, ':'); i >= 0 {
		u = u[:i]
	}
	return strings.TrimRight(u, ".")
}

// underDomain reports whether host is domain or a subdomain of it.
func underDomain(host, domain string) bool {
	return host == domain || len(host) > len(domain) && strings.HasSuffix(host, domain) && host[len(host)-len(domain)-1] == '.'
}

// cleanHost turns an allowlist entry ("Taobao.com", "*.tmall.com",
// "https://m.tb.cn/x") into a bare lower-case host, or explains why it is
// not one.
func cleanHost(h string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(h))
	c = hostOf(c)
	c = strings.TrimPrefix(strings.TrimPrefix(c, "*"), ".")
	if c == "" {
		return "", fmt.Errorf("host %q: empty", h)
	}
	for i := 0; i < len(c); i++ {
		if !isHostByte(c[i]) && c[i] != '.' {
			return "", fmt.Errorf("host %q: want an ASCII host name (punycode for other scripts)", h)
		}
	}
	return c, nil
}

// isURLByte reports whether c may stand in a URL (RFC 3986 unreserved,
// reserved and percent).
func isURLByte(c byte) bool {
	return isHostByte(c) || strings.IndexByte(".~:/?#[]@!$&'()*+,;=%", c) >= 0
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
