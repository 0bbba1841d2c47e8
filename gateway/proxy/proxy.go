// Package proxy holds the gateway's configured proxy routes: it matches a
// request to a route, pulls every text the route carries out of the request
// (the draft and other text fields of the JSON body by JSON pointers, RFC
// 6901, and the allowed query parameters) with the draft's ids, replaces
// the texts with their masked forms, and forwards the request to the
// route's upstream the way a reverse proxy should (net/http/httputil.
// ReverseProxy is the model: hop-by-hop headers stripped, X-Forwarded-For
// appended). Inspection is the gateway's job.
//
// The rule behind the request checks is that the gateway never forwards a
// byte it did not inspect: a body in a media type or content coding the
// route does not parse, or a query parameter the route does not declare, is
// refused rather than passed through (see ExtractRequest).
//
// Everything is parsed and validated by New; the request path only looks up
// precomputed state, so a *Proxy and its *Compiled routes are immutable and
// safe for concurrent use.
package proxy

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// Defaults for zero Route fields.
const (
	DefaultMethod           = fasthttp.MethodPost
	DefaultTimeout          = 5 * time.Second
	DefaultMaxConns         = 512
	DefaultMaxResponseBytes = 4 << 20
	// idleConnDuration closes pooled upstream connections idle this long,
	// shorter than common server keep-alive timeouts, so that a POST (which
	// fasthttp does not retry) rarely meets a connection the upstream has
	// just closed.
	idleConnDuration = 5 * time.Second
	// maxConnDuration recycles upstream connections so that a restarted or
	// rebalanced upstream gets traffic back.
	maxConnDuration = 5 * time.Minute
)

// Route is one configured proxy route, as a `routes:` entry of the
// gateway's configuration file gives it (gateway/config holds a []Route).
// The zero value of each optional field means the default documented on
// it; Defaults fills those a configuration file may leave out.
type Route struct {
	// Name identifies the route in logs and metrics; empty means
	// "METHOD PATH".
	Name string `json:"name" yaml:"name"`
	// Method is the HTTP method to match, e.g. POST. It is compared
	// case-sensitively after upper-casing the configured value. New takes
	// an empty Method as POST; a configuration file must name it
	// (Validate).
	Method string `json:"method" yaml:"method"`
	// Path is the path to match, e.g. /api/messages/send, compared with
	// fasthttp's normalized path (ctx.Path()). It may be a template whose
	// whole segments are parameters, e.g.
	// /conversations/{conversation_id}/messages: each matches one non-empty
	// segment; {conversation_id} is the message's conversation id and
	// {agent_id} the agent id (the body's fields, if configured too, must
	// agree). An exact path wins over a template. What is sent upstream is
	// the route's path with the matched segments escaped again, so an
	// encoded or dot-segment spelling cannot reach a different upstream
	// handler than the one inspected.
	Path string `json:"path" yaml:"path"`
	// Upstream is the chat backend's base URL requests are forwarded to:
	// http://host:port or https://host:port, optionally with a base path
	// that is prefixed to Path. No query, fragment or user info. Required.
	Upstream string `json:"upstream" yaml:"upstream"`
	// Timeout bounds one upstream exchange (connect, write, read); zero means
	// DefaultTimeout (5s).
	Timeout duration.Duration `json:"timeout" yaml:"timeout"`
	// Text is the JSON pointer (RFC 6901) to the draft's text, e.g.
	// "/message/text". Required.
	Text string `json:"text" yaml:"text"`
	// Conversation, Agent and Role are JSON pointers to the conversation id,
	// agent id and sender role; empty means the body has no such field.
	Conversation string `json:"conversation" yaml:"conversation"`
	Agent        string `json:"agent" yaml:"agent"`
	Role         string `json:"role" yaml:"role"`
	// MaxConns bounds the connections to Upstream; zero means 512. Routes
	// sharing an upstream share its pool, sized by the largest MaxConns.
	// Not settable from the configuration file.
	MaxConns int `json:"max_conns" yaml:"-"`
	// MaxResponseBytes bounds an upstream response body; zero means 4 MiB.
	// Not settable from the configuration file.
	MaxResponseBytes int `json:"max_response_bytes" yaml:"-"`
	// ForwardAuth forwards the client's Authorization and X-API-Key headers.
	// They are the gateway's own credentials, so by default (false) they are
	// stripped and the upstream never sees them.
	ForwardAuth bool `json:"forward_auth" yaml:"forward_auth"`
	// Texts are JSON pointers to further text fields the body may carry
	// beside Text, texts the backend shows the customer, e.g.
	// "/message/html" or "/attachments/*/caption": each is inspected and
	// masked like the draft. A "*" token matches every element of an array
	// and every member of an object (so in Texts a member literally named
	// "*" cannot be addressed). They are optional: a missing field or null
	// is no text; any other non-string is an error. Default none.
	Texts []string `json:"texts" yaml:"texts"`
	// Query lists the query parameters the route accepts; their values are
	// texts too, inspected and masked. Empty (the default) means a request
	// with any query string is refused: a parameter no one inspects could
	// carry the draft to an upstream that reads it.
	Query []string `json:"query" yaml:"query"`
	// ContentTypes are the media types the route accepts, e.g.
	// "application/json"; empty means just that one, and anything else is
	// refused with 415. The body is parsed as JSON whatever it says, so only
	// JSON types are allowed (application/json or a "+json" suffix type): an
	// upstream that decodes a form or a multipart body could read text the
	// JSON parse does not see.
	ContentTypes []string `json:"content_types" yaml:"content_types"`
	// Roles are the sender roles the route carries ("agent", "customer");
	// empty means ["agent"]. The gateway checks a message's role against
	// them (AllowsRole) before trusting it: a role outside them is refused
	// (403), and a customer role needs a credential with the customer scope.
	Roles []string `json:"roles" yaml:"roles"`
}

// Defaults upper-cases Method and fills the zero fields a configuration
// file may leave out: Name ("METHOD PATH") and Timeout (DefaultTimeout).
// It leaves an empty Method empty, for Validate to report.
func (r *Route) Defaults() {
	r.Method = strings.ToUpper(r.Method)
	if r.Name == "" {
		r.Name = r.Method + " " + r.Path
	}
	if r.Timeout == 0 {
		r.Timeout = duration.Duration(DefaultTimeout)
	}
}

// Validate checks the route as a configuration file gives it (call
// Defaults first), naming each fault by its YAML path under path, e.g.
// "routes[0].text: missing: ...". It reports every fault, joined. New
// checks more (the upstream URL, the pointers' escapes, duplicates) when
// it compiles the route.
func (r Route) Validate(path string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	if r.Method == "" {
		bad("method", "missing")
	}
	if !strings.HasPrefix(r.Path, "/") {
		bad("path", "%q: want a path starting with /", r.Path)
	}
	if r.Upstream == "" {
		bad("upstream", "missing")
	}
	if r.Text == "" {
		bad("text", "missing: the JSON pointer to the message text")
	}
	for _, p := range []struct{ field, ptr string }{{"text", r.Text}, {"conversation", r.Conversation}, {"agent", r.Agent}, {"role", r.Role}} {
		if p.ptr != "" && !strings.HasPrefix(p.ptr, "/") {
			bad(p.field, "%q is not a JSON pointer (RFC 6901: starts with /)", p.ptr)
		}
	}
	for j, ptr := range r.Texts {
		if !strings.HasPrefix(ptr, "/") {
			bad(fmt.Sprintf("texts[%d]", j), "%q is not a JSON pointer (RFC 6901: starts with /)", ptr)
		}
	}
	for j, role := range r.Roles {
		if role != RoleAgent && role != RoleCustomer {
			bad(fmt.Sprintf("roles[%d]", j), "%q: want agent or customer", role)
		}
	}
	return errors.Join(errs...)
}

// Sender roles a route may carry (Route.Roles).
const (
	RoleAgent    = "agent"
	RoleCustomer = "customer"
)

// DefaultContentType is the media type a route accepts when
// Route.ContentTypes is empty.
const DefaultContentType = "application/json"

// Options configure a Proxy as a whole.
type Options struct {
	// TrustedProxies are the networks of the load balancers or proxies in
	// front of the gateway. Only a request whose direct client address is in
	// one of them keeps its X-Forwarded-For chain (the client's address is
	// appended), Forwarded, X-Real-IP and X-Forwarded-Host/Proto/Port; from
	// anyone else they are claims the client made up, and are stripped.
	// Empty trusts no one.
	TrustedProxies []netip.Prefix
}

// Proxy is a set of compiled routes. Build it with New; it is immutable
// afterwards and safe for concurrent use.
type Proxy struct {
	routes    map[string]map[string]*Compiled // method → path → route
	templates map[string][]*Compiled          // method → routes with a path template, in configuration order
	clients   []*fasthttp.HostClient
}

// proxyShared is the state a Proxy's routes share.
type proxyShared struct {
	trusted   []netip.Prefix
	transport *transport
}

// Compiled is a validated route with its parsed pointers and upstream
// client. It is immutable and safe for concurrent use.
type Compiled struct {
	name        string
	method      string
	path        string
	target      string    // scheme://host + base path + path, without query
	base        string    // scheme://host + base path
	tmpl        *template // nil: an exact path
	timeout     time.Duration
	forwardAuth bool

	text                      pointer
	texts                     []pointer // Route.Texts, "*" tokens are wildcards
	conversation, agent, role *pointer  // nil: not configured
	query                     []string  // allowed query parameter names
	contentTypes              []string  // lower-case media types
	roles                     []string

	shared *proxyShared
	client *fasthttp.HostClient
}

// New is NewWithOptions with zero Options: no trusted proxies.
func New(routes []Route) (*Proxy, error) {
	return NewWithOptions(routes, Options{})
}

// NewWithOptions validates routes and compiles them. Errors name the
// offending field, e.g. `routes[1].text: JSON pointer must start with "/"`,
// all of them joined. It builds one pooled fasthttp.HostClient per upstream
// scheme and host; no connection is opened until the first Forward.
func NewWithOptions(routes []Route, opts Options) (*Proxy, error) {
	p := &Proxy{routes: make(map[string]map[string]*Compiled), templates: make(map[string][]*Compiled)}
	shapes := map[string]bool{} // method + template shape
	clients := make(map[string]*fasthttp.HostClient)
	shared := &proxyShared{transport: &transport{}}
	var errs []error
	for i, pfx := range opts.TrustedProxies {
		if !pfx.IsValid() {
			errs = append(errs, fmt.Errorf("trusted_proxies[%d]: not a valid prefix", i))
			continue
		}
		shared.trusted = append(shared.trusted, pfx.Masked())
	}
	for i, rt := range routes {
		c, hostKey, host, isTLS, err := compile(rt)
		if err != nil {
			errs = append(errs, fmt.Errorf("routes[%d]%w", i, err))
			continue
		}
		c.shared = shared
		if c.tmpl != nil {
			key := c.method + " " + c.tmpl.shape()
			if shapes[key] {
				errs = append(errs, fmt.Errorf("routes[%d].path: template %s %s matches the same paths as an earlier route", i, c.method, c.path))
				continue
			}
			shapes[key] = true
			p.templates[c.method] = append(p.templates[c.method], c)
		}
		byPath := p.routes[c.method]
		if byPath == nil {
			byPath = make(map[string]*Compiled)
			p.routes[c.method] = byPath
		}
		if _, dup := byPath[c.path]; dup && c.tmpl == nil {
			errs = append(errs, fmt.Errorf("routes[%d].path: duplicate route %s %s", i, c.method, c.path))
			continue
		}
		if c.tmpl == nil {
			byPath[c.path] = c
		}
		maxConns := rt.MaxConns
		if maxConns <= 0 {
			maxConns = DefaultMaxConns
		}
		maxResp := rt.MaxResponseBytes
		if maxResp <= 0 {
			maxResp = DefaultMaxResponseBytes
		}
		hc := clients[hostKey]
		if hc == nil {
			hc = &fasthttp.HostClient{
				Addr:                     host,
				Name:                     "", // keep the client's User-Agent, add none
				NoDefaultUserAgentHeader: true,
				IsTLS:                    isTLS,
				MaxIdleConnDuration:      idleConnDuration,
				MaxConnDuration:          maxConnDuration,
				// Error messages must not quote upstream bytes (private).
				SecureErrorLogMessage: true,
				// The path sent is the route's own, already clean.
				DisablePathNormalizing: true,
				// Records whether a request's bytes reached the upstream.
				Transport: shared.transport,
			}
			clients[hostKey] = hc
			p.clients = append(p.clients, hc)
		}
		hc.MaxConns = max(hc.MaxConns, maxConns)
		hc.MaxResponseBodySize = max(hc.MaxResponseBodySize, maxResp)
		hc.ReadTimeout = max(hc.ReadTimeout, c.timeout)
		hc.WriteTimeout = max(hc.WriteTimeout, c.timeout)
		hc.MaxConnWaitTimeout = max(hc.MaxConnWaitTimeout, c.timeout)
		c.client = hc
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// compile validates one route. Errors start with ".field: ".
func compile(rt Route) (c *Compiled, hostKey, host string, isTLS bool, err error) {
	c = &Compiled{method: strings.ToUpper(rt.Method), path: rt.Path, timeout: rt.Timeout.D(), forwardAuth: rt.ForwardAuth}
	if c.method == "" {
		c.method = DefaultMethod
	}
	if !isToken(c.method) {
		return nil, "", "", false, errors.New(".method: not an HTTP method token")
	}
	if !strings.HasPrefix(c.path, "/") {
		return nil, "", "", false, errors.New(`.path: must start with "/"`)
	}
	if strings.ContainsAny(c.path, "?#") || !isCleanPath(c.path) {
		return nil, "", "", false, errors.New(".path: must be a clean path without query, fragment, empty or dot segments")
	}
	if c.tmpl, _, err = parseTemplate(c.path); err != nil {
		return nil, "", "", false, err
	}
	if c.timeout < 0 {
		return nil, "", "", false, errors.New(".timeout: negative")
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if rt.MaxConns < 0 {
		return nil, "", "", false, errors.New(".max_conns: negative")
	}
	if rt.MaxResponseBytes < 0 {
		return nil, "", "", false, errors.New(".max_response_bytes: negative")
	}
	c.name = rt.Name
	if c.name == "" {
		c.name = c.method + " " + c.path
	}

	u, perr := url.Parse(rt.Upstream)
	switch {
	case rt.Upstream == "":
		err = errors.New(".upstream: required")
	case perr != nil:
		err = errors.New(".upstream: not a URL") // url errors quote the input; it is config, but keep it short
	case u.Scheme != "http" && u.Scheme != "https":
		err = errors.New(`.upstream: scheme must be "http" or "https"`)
	case u.Host == "" || u.Hostname() == "":
		err = errors.New(".upstream: host required")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		err = errors.New(".upstream: must not have user info, query or fragment")
	}
	if err != nil {
		return nil, "", "", false, err
	}
	isTLS = u.Scheme == "https"
	host = u.Host
	if u.Port() == "" {
		port := "80"
		if isTLS {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	hostKey = u.Scheme + "://" + host
	c.base = hostKey + strings.TrimSuffix(u.EscapedPath(), "/")
	c.target = c.base + c.path

	if rt.Text == "" {
		return nil, "", "", false, errors.New(".text: required")
	}
	if c.text, err = parsePointer(rt.Text); err != nil {
		return nil, "", "", false, fmt.Errorf(".text: %w", err)
	}
	for _, f := range []struct {
		name string
		raw  string
		dst  **pointer
	}{{"conversation", rt.Conversation, &c.conversation}, {"agent", rt.Agent, &c.agent}, {"role", rt.Role, &c.role}} {
		if f.raw == "" {
			continue
		}
		ptr, err := parsePointer(f.raw)
		if err != nil {
			return nil, "", "", false, fmt.Errorf(".%s: %w", f.name, err)
		}
		*f.dst = &ptr
	}
	if err := c.compileChannels(rt); err != nil {
		return nil, "", "", false, err
	}
	return c, hostKey, host, isTLS, nil
}

// compileChannels validates the route's extra texts, query parameters,
// content types and roles. Errors start with ".field".
func (c *Compiled) compileChannels(rt Route) error {
	for _, t := range c.text.toks {
		if t.name == "*" {
			return errors.New(`.text: the draft's pointer names one string; put "*" pointers in texts`)
		}
	}
	for i, raw := range rt.Texts {
		ptr, err := parseTextPointer(raw)
		if err != nil {
			return fmt.Errorf(".texts[%d]: %w", i, err)
		}
		if raw == c.text.raw || slices.ContainsFunc(c.texts, func(p pointer) bool { return p.raw == raw }) {
			return fmt.Errorf(".texts[%d]: duplicate pointer", i)
		}
		c.texts = append(c.texts, ptr)
	}
	for i, name := range rt.Query {
		switch {
		case name == "":
			return fmt.Errorf(".query[%d]: empty parameter name", i)
		case !utf8.ValidString(name):
			return fmt.Errorf(".query[%d]: not UTF-8", i)
		case slices.Contains(c.query, name):
			return fmt.Errorf(".query[%d]: duplicate parameter", i)
		}
		c.query = append(c.query, name)
	}
	cts := rt.ContentTypes
	if len(cts) == 0 {
		cts = []string{DefaultContentType}
	}
	for i, ct := range cts {
		mt, params, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return fmt.Errorf(".content_types[%d]: not a media type", i)
		case len(params) > 0:
			return fmt.Errorf(".content_types[%d]: no parameters allowed (charset is always UTF-8)", i)
		case mt != "application/json" && !strings.HasSuffix(mt, "+json"):
			return fmt.Errorf(`.content_types[%d]: the body is parsed as JSON: only application/json or a "+json" type`, i)
		}
		if !slices.Contains(c.contentTypes, mt) {
			c.contentTypes = append(c.contentTypes, mt)
		}
	}
	roles := rt.Roles
	if len(roles) == 0 {
		roles = []string{RoleAgent}
	}
	for i, role := range roles {
		if role != RoleAgent && role != RoleCustomer {
			return fmt.Errorf(`.roles[%d]: must be "agent" or "customer"`, i)
		}
		if !slices.Contains(c.roles, role) {
			c.roles = append(c.roles, role)
		}
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token, as a method must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// isCleanPath reports whether p has no empty, "." or ".." segments (but
// "/" alone is fine) and only printable ASCII without "%", so that it
// equals fasthttp's normalized form of it and needs no escaping.
func isCleanPath(p string) bool {
	if p == "/" {
		return true
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; c <= ' ' || c >= 0x7f || c == '%' {
				return false
			}
		}
	}
	return true
}

// Match returns the route for method and path (fasthttp's ctx.Method() and
// ctx.Path(), the normalized path), or nil: the route with exactly that
// path, else the first path template, in configuration order, that the
// path fits. It allocates nothing.
func (p *Proxy) Match(method, path []byte) *Compiled {
	if r := p.routes[string(method)][string(path)]; r != nil {
		return r
	}
	for _, r := range p.templates[string(method)] {
		if r.tmpl.match(path) {
			return r
		}
	}
	return nil
}

// CloseIdleConnections closes the upstream connections not in use, e.g. at
// shutdown. Connections in use are closed when they are released.
func (p *Proxy) CloseIdleConnections() {
	for _, c := range p.clients {
		c.CloseIdleConnections()
	}
}

// Name returns the route's name (Route.Name, or "METHOD PATH").
func (r *Compiled) Name() string { return r.name }

// Method returns the method the route matches.
func (r *Compiled) Method() string { return r.method }

// Path returns the path the route matches and forwards to.
func (r *Compiled) Path() string { return r.path }

// Roles returns the sender roles the route carries (Route.Roles, default
// ["agent"]). The slice is a copy.
func (r *Compiled) Roles() []string { return slices.Clone(r.roles) }

// AllowsRole reports whether the route carries messages from role, compared
// exactly. The gateway maps a message without a role to its default role
// before asking.
func (r *Compiled) AllowsRole(role string) bool { return slices.Contains(r.roles, role) }
