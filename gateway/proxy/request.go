package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// Sentinels for the request checks of ExtractRequest (and Forward, which
// repeats the ones it can); test with errors.Is. The gateway answers 415
// for ErrUnsupportedMediaType (code unsupported_media_type) and
// ErrUnsupportedEncoding (unsupported_encoding), and 400 for
// ErrQueryNotAllowed. Their messages never quote the request.
var (
	// ErrUnsupportedMediaType: the body's Content-Type is none of the
	// route's ContentTypes, names a charset other than UTF-8, or is missing
	// on a non-empty body.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnsupportedEncoding: the body has a Content-Encoding other than
	// identity. The gateway would inspect compressed bytes, or bytes it
	// decoded, while the upstream decodes its own: it forwards only what it
	// inspected, so it refuses.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
	// ErrQueryNotAllowed: the query string has a parameter the route does
	// not declare (Route.Query), a parameter twice, a ";" separator, or an
	// encoding that does not decode to UTF-8.
	ErrQueryNotAllowed = errors.New("query string not allowed")
)

// Header names compared while checking requests. Read-only.
var hdrContentEncoding = []byte(fasthttp.HeaderContentEncoding)

// ExtractRequest checks req's framing against the route and returns the
// draft's fields and every text req carries: ExtractAll's body texts, then
// the allowed query parameters' values in query order (Pointer and Path
// "?name"). The body is req.Body(), the bytes as received.
//
// Checks, in order: Content-Encoding (ErrUnsupportedEncoding), Content-Type
// (ErrUnsupportedMediaType), the query string (ErrQueryNotAllowed), the
// body (ErrBadBody, *FieldError). ExtractRequest is safe for concurrent use.
func (r *Compiled) ExtractRequest(req *fasthttp.Request) (Message, []Text, error) {
	body := req.Body()
	if err := r.CheckHeaders(&req.Header, len(body)); err != nil {
		return Message{}, nil, err
	}
	qs, err := r.QueryTexts(req.URI().QueryString())
	if err != nil {
		return Message{}, nil, err
	}
	m, texts, err := r.ExtractAll(body)
	if err != nil {
		return Message{}, nil, err
	}
	if r.tmpl != nil {
		if err := r.pathIDs(req.URI().Path(), &m); err != nil {
			return Message{}, nil, err
		}
	}
	return m, append(texts, qs...), nil
}

// pathIDs sets m's conversation and agent ids from the path parameters of a
// templated route. A body field configured for the same id must be absent
// or agree: a body naming another conversation than the path would have
// the message inspected in one conversation and delivered to another.
func (r *Compiled) pathIDs(path []byte, m *Message) error {
	for _, f := range []struct {
		idx int
		ptr *pointer
		dst *string
	}{{r.tmpl.conversation, r.conversation, &m.ConversationID}, {r.tmpl.agent, r.agent, &m.AgentID}} {
		if f.idx < 0 {
			continue
		}
		v, err := r.tmpl.param(path, f.idx)
		if err != nil {
			return err
		}
		if *f.dst != "" && *f.dst != v {
			return &FieldError{Pointer: f.ptr.raw, Problem: "differs from the path's {" + r.tmpl.segs[f.idx].param + "}"}
		}
		*f.dst = v
	}
	return nil
}

// CheckHeaders checks the Content-Encoding and Content-Type of a request
// whose body is bodyLen bytes long: no content coding but identity, and a
// media type in Route.ContentTypes (compared case-insensitively, parameters
// ignored but for charset, which must be UTF-8). A missing Content-Type is
// fine only for an empty body.
func (r *Compiled) CheckHeaders(h *fasthttp.RequestHeader, bodyLen int) error {
	if err := checkEncoding(h); err != nil {
		return fmt.Errorf("route %s: %w", r.name, err)
	}
	ct := h.ContentType()
	if len(ct) == 0 {
		if bodyLen == 0 {
			return nil
		}
		return fmt.Errorf("route %s: %w: Content-Type missing", r.name, ErrUnsupportedMediaType)
	}
	mt, params, err := mime.ParseMediaType(string(ct))
	if err != nil {
		return fmt.Errorf("route %s: %w: Content-Type malformed", r.name, ErrUnsupportedMediaType)
	}
	if !slices.Contains(r.contentTypes, mt) {
		return fmt.Errorf("route %s: %w: want %s", r.name, ErrUnsupportedMediaType, strings.Join(r.contentTypes, ", "))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return fmt.Errorf("route %s: %w: charset must be UTF-8", r.name, ErrUnsupportedMediaType)
	}
	return nil
}

// checkEncoding refuses any Content-Encoding token but identity, in any of
// the request's Content-Encoding headers.
func checkEncoding(h *fasthttp.RequestHeader) error {
	for k, v := range h.All() {
		if !bytes.EqualFold(k, hdrContentEncoding) {
			continue
		}
		for tok := range connectionTokens(v) {
			if !bytes.EqualFold(tok, []byte("identity")) {
				return fmt.Errorf("%w: only identity is accepted", ErrUnsupportedEncoding)
			}
		}
	}
	return nil
}

// queryParam is one name=value pair of a raw query string.
type queryParam struct {
	name, value string // decoded
	raw         []byte // the pair as received, without "&"
	rawName     []byte // the name as received
}

// parseQuery splits and decodes q (without "?") and checks it against the
// route: every name allowed and given once, no ";" (which some servers
// take as a separator), valid percent-encoding, UTF-8. Empty pairs ("a=1&&b=2")
// are skipped, as net/url does. Errors never quote q.
func (r *Compiled) parseQuery(q []byte) ([]queryParam, error) {
	if len(q) == 0 {
		return nil, nil
	}
	if len(r.query) == 0 {
		return nil, fmt.Errorf("route %s: %w: the route takes no query parameters", r.name, ErrQueryNotAllowed)
	}
	if bytes.IndexByte(q, ';') >= 0 {
		return nil, fmt.Errorf(`route %s: %w: ";" in query`, r.name, ErrQueryNotAllowed)
	}
	var params []queryParam
	for pair := range bytes.SplitSeq(q, []byte("&")) {
		if len(pair) == 0 {
			continue
		}
		rawName, rawValue, _ := bytes.Cut(pair, []byte("="))
		name, err1 := url.QueryUnescape(string(rawName))
		value, err2 := url.QueryUnescape(string(rawValue))
		switch {
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf("route %s: %w: bad percent-encoding", r.name, ErrQueryNotAllowed)
		case !slices.Contains(r.query, name):
			return nil, fmt.Errorf("route %s: %w: parameter not declared by the route", r.name, ErrQueryNotAllowed)
		case !utf8.ValidString(value):
			return nil, fmt.Errorf("route %s: %w: parameter %s is not UTF-8", r.name, ErrQueryNotAllowed, name)
		case slices.ContainsFunc(params, func(p queryParam) bool { return p.name == name }):
			return nil, fmt.Errorf("route %s: %w: parameter %s given twice", r.name, ErrQueryNotAllowed, name)
		}
		params = append(params, queryParam{name: name, value: value, raw: pair, rawName: rawName})
	}
	return params, nil
}

// QueryTexts checks the raw query string q (without "?", as
// fasthttp.URI.QueryString returns it) against Route.Query and returns its
// parameters' values as texts named "?name", in query order. Errors wrap
// ErrQueryNotAllowed and name no client-chosen parameter.
func (r *Compiled) QueryTexts(q []byte) ([]Text, error) {
	params, err := r.parseQuery(q)
	if err != nil || len(params) == 0 {
		return nil, err
	}
	texts := make([]Text, len(params))
	for i, p := range params {
		texts[i] = Text{Pointer: "?" + p.name, Path: "?" + p.name, Text: p.value}
	}
	return texts, nil
}

// QueryWithTexts returns the raw query string q with the value of each
// parameter named by a query text of texts ("?name", IsQuery) replaced by
// that text's Text, query-escaped; every other pair is kept byte for byte.
// Body texts are skipped. A text naming a parameter q does not have is an
// error wrapping ErrQueryNotAllowed, as are the checks of QueryTexts. Pass
// the result to ForwardQuery.
func (r *Compiled) QueryWithTexts(q []byte, texts []Text) ([]byte, error) {
	params, err := r.parseQuery(q)
	if err != nil {
		return nil, err
	}
	repl := make([]int, len(params)) // index into texts + 1; 0: keep
	for ti, t := range texts {
		if !t.IsQuery() {
			continue
		}
		pi := slices.IndexFunc(params, func(p queryParam) bool { return p.name == t.Path[1:] })
		if pi < 0 {
			return nil, fmt.Errorf("route %s: %w: masked parameter %s not in the query", r.name, ErrQueryNotAllowed, t.Pointer)
		}
		repl[pi] = ti + 1
	}
	out := make([]byte, 0, len(q)+16)
	for i, p := range params {
		if i > 0 {
			out = append(out, '&')
		}
		if repl[i] == 0 {
			out = append(out, p.raw...)
			continue
		}
		out = append(out, p.rawName...)
		out = append(out, '=')
		out = append(out, url.QueryEscape(texts[repl[i]-1].Text)...)
	}
	return out, nil
}
