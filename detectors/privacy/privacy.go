// Package privacy finds private data written out in a chat message: phone
// numbers, identity numbers (PRC resident ID, US SSN), bank cards, email and
// postal addresses, passports, licence plates and credentials (verification
// codes, passwords, and requests for them).
//
// Numbers are validated, not just shaped: resident IDs by their GB 11643
// checksum, birth date and region, cards by Luhn, mainland mobiles by the
// prefixes libphonenumber knows, foreign numbers by libphonenumber itself.
// Context words from the lexicon raise confidence (卡号, passport) or cancel
// a match (订单号, order number); a label says whose an address is (收货地址
// the customer's, 门店地址 or 退货地址 the shop's own, which is not
// reported). A request for a code counts when the code is named (验证码) or
// described by where it came from (把短信里的数字发我, "read me the numbers
// we just texted you"). Public service numbers (hotlines such as
// 12315 and 12345, 95188, 10086, 110, 400/800 corporate lines) are nobody's
// private data and raise no finding; PublicNumber tells them, for other
// maskers too. Evidence of every finding is masked; Mask and Redact mask
// the original text the same way.
package privacy

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Name is the detector family.
const Name = "privacy"

// Kinds returns the taxonomy kinds of the privacy family, the second half of
// its findings' names: part of the public API (DESIGN.md, the schemas).
// Lexicon entries must be of one of them. Each call returns a new slice.
func Kinds() []string {
	return []string{"phone", "id_card", "bank_card", "email", "address", "passport", "license_plate", "credential"}
}

// AskRule is the Rule of a credential finding for a request to hand over a
// code or password (as opposed to one written out). Redact leaves such
// findings in place: there is nothing to mask.
const AskRule = "privacy.credential.ask"

// Names of the lexicon sets the detector reads.
const (
	setPhone     = "phone_keywords"
	setOrder     = "order_keywords"
	setID        = "id_keywords"
	setSSN       = "ssn_keywords"
	setCard      = "card_keywords"
	setPassport  = "passport_keywords"
	setCredTerms = "credential_terms"
	setCredLinks = "credential_links"
	setCredAsk   = "credential_ask"
	setCredNeg   = "credential_negations"
	setUnnamed   = "credential_unnamed"
	setCodeSrc   = "credential_sources"
	setOtherCode = "credential_other_codes"
	setRegions   = "address_regions"
	setPersonal  = "address_personal"
	setShopAddr  = "address_business"
	setStreet    = "street_suffixes"
	setStopwords = "address_stopwords"
	setIDRegions = "id_regions"
	setBusiness  = "business_number_prefixes"
	setPlates    = "plate_provinces"
	setProviders = "email_providers"
	setTLDs      = "email_tlds"
	setUnits     = "address_units"
	setNumUnits  = "number_units"
)

// dataSets are tables read once by New, not matched in messages.
var dataSets = []string{setIDRegions, setBusiness, setPlates, setProviders, setTLDs, setCredLinks, setStopwords, setUnits, setNumUnits}

// Detector finds private data. It is immutable after New and safe for
// concurrent use.
type Detector struct {
	lex       *lexicon.Lexicon
	version   string
	mobile    *mobileTable
	regions   [100]bool
	business  []prefix
	plates    *[1 << 10]uint64 // bitset over the BMP of plate province characters
	providers []string
	tlds      []string
	links     []string
	numUnits  []string
	stopwords map[string]bool
	units     map[string]bool
	maxYear   int
	// hitBufs holds *[]lexicon.Hit for Detect's lexicon hits: a buffer on
	// Detect's stack escapes (the scan's findings do), and Detect runs on
	// every message.
	hitBufs sync.Pool
}

var _ detectors.Detector = (*Detector)(nil)

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded("privacy", defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded("privacy", defaultLexicon, New) }

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). The data sets (id_regions, plate_provinces …) must be
// present; the keyword sets may be empty.
func New(f lexicon.File) (*Detector, error) {
	n := normalize.Default()
	full, err := lexicon.Compile(f, n, Kinds())
	if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	// Match only the keyword sets: data tables of single characters and
	// two-digit codes would hit all over a message.
	match := f
	match.Sets = make(map[string][]string, len(f.Sets))
	for k, v := range f.Sets {
		match.Sets[k] = v
	}
	for _, k := range dataSets {
		delete(match.Sets, k)
	}
	lex, err := lexicon.Compile(match, n, Kinds())
	if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	d := &Detector{
		lex:       lex,
		version:   full.Version(),
		mobile:    cnMobile(),
		plates:    new([1 << 10]uint64),
		stopwords: map[string]bool{},
		units:     map[string]bool{},
		maxYear:   time.Now().Year(),
	}
	for _, r := range f.Sets[setIDRegions] {
		if len(r) != 2 || !isDigit(r[0]) || !isDigit(r[1]) {
			return nil, fmt.Errorf("privacy: set %s: %q is not a two-digit code", setIDRegions, r)
		}
		d.regions[atoi(r)] = true
	}
	if len(f.Sets[setIDRegions]) == 0 {
		return nil, fmt.Errorf("privacy: set %s is empty", setIDRegions)
	}
	for _, p := range f.Sets[setPlates] {
		r, size := utf8.DecodeRuneInString(p)
		if size != len(p) || r == utf8.RuneError || r > 0xFFFF {
			return nil, fmt.Errorf("privacy: set %s: %q is not one character", setPlates, p)
		}
		d.plates[r>>6] |= 1 << (r & 63)
	}
	norm := func(set string) []string {
		var out []string
		for _, s := range f.Sets[set] {
			if v := n.Normalize(s).Norm; v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	for _, b := range f.Sets[setBusiness] {
		pre, length, ok := strings.Cut(b, "/")
		if !ok || !isDigitString(pre) || !isDigitString(length) {
			return nil, fmt.Errorf("privacy: set %s: %q is not prefix/length", setBusiness, b)
		}
		d.business = append(d.business, prefix{pre, atoi(length)})
	}
	d.providers = norm(setProviders)
	d.tlds = norm(setTLDs)
	d.links = norm(setCredLinks)
	d.numUnits = norm(setNumUnits)
	for _, w := range norm(setStopwords) {
		d.stopwords[w] = true
	}
	for _, w := range norm(setUnits) {
		d.units[w] = true
	}
	return d, nil
}

// prefix is a business number prefix and the longest number it starts.
type prefix struct {
	digits string
	maxLen int
}

// Name returns the family name, "privacy".
func (d *Detector) Name() string { return Name }

// Version returns the lexicon's content hash.
func (d *Detector) Version() string { return d.version }

// hitBuf is the capacity of a new buffer of lexicon hits (hitBufs); a
// buffer grown past hitMax is not kept.
const (
	hitBuf = 32
	hitMax = 1024
)

// Detect appends the private data found in t to dst. Evidence is masked.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	if t == nil || t.Norm == "" {
		return dst
	}
	buf, _ := d.hitBufs.Get().(*[]lexicon.Hit)
	if buf == nil {
		buf = new([]lexicon.Hit)
		*buf = make([]lexicon.Hit, 0, hitBuf)
	}
	s := &scan{d: d, t: t, norm: t.Norm, hits: d.lex.MatchText(t, (*buf)[:0]), dst: dst}
	s.han = hasHan(s.norm)
	s.numbers()
	s.emails()
	s.plates()
	s.addresses()
	s.credentials()
	if cap(s.hits) <= hitMax {
		clear(s.hits) // no Entry pointers kept alive
		*buf = s.hits[:0]
		d.hitBufs.Put(buf)
	}
	return s.dst
}

// scan is the state of one Detect call.
type scan struct {
	d    *Detector
	t    *normalize.Text
	norm string
	hits []lexicon.Hit
	han  bool
	dst  []detectors.Finding
}

// add appends a finding for the normalized range [nb, ne) with masked
// evidence.
func (s *scan) add(kind string, sev detectors.Severity, score float64, nb, ne int, rule string) {
	f := detectors.At(s.t, Name, kind, sev, min(score, 1), nb, ne)
	f.Evidence = s.d.maskSpan(s.t, kind, f.Start, f.End)
	f.Rule = rule
	s.dst = append(s.dst, f)
}

// before reports whether a hit of set ends at most window bytes before nb
// with no digit between it and nb.
func (s *scan) before(set string, nb, window int) bool {
	for _, h := range s.hits {
		if h.Start >= nb {
			break
		}
		if h.Set == set && h.End <= nb && nb-h.End <= window && !hasDigit(s.norm[h.End:nb]) {
			return true
		}
	}
	return false
}

// labelledAs reports whether the nearest label before nb, within window
// bytes and with no digit between, is a word of set: in 您的订单已登记，手机
// 138… the number is a phone, described by 手机, not an order number
// because 订单 came earlier.
func (s *scan) labelledAs(set string, nb, window int) bool {
	last, lastEnd := "", -1
	for _, h := range s.hits {
		if h.Start >= nb {
			break
		}
		if h.End > nb || nb-h.End > window || h.End < lastEnd || hasDigit(s.norm[h.End:nb]) {
			continue
		}
		switch h.Set { // the sets whose words say what the number after them is
		case setPhone, setOrder, setID, setSSN, setCard, setPassport:
			last, lastEnd = h.Set, h.End
		}
	}
	return last == set
}

// near reports whether a hit of set lies within window bytes of [nb, ne),
// before or after it.
func (s *scan) near(set string, nb, ne, window int) bool {
	for _, h := range s.hits {
		if h.Start > ne+window {
			break
		}
		if h.Set == set && h.End >= nb-window {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isLower(c) }

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

func hasHan(s string) bool {
	for _, r := range s {
		if normalize.IsHan(r) {
			return true
		}
	}
	return false
}

// Lexicon returns the detector's compiled lexicon (its context words and
// sets), so that an inspector can match it in one pass with the other
// families' (lexicon.Scanner).
func (d *Detector) Lexicon() *lexicon.Lexicon { return d.lex }
