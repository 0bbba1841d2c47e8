// Package lexicon compiles the term lists that compliance teams edit into one
// Aho-Corasick automaton per detector, and matches it against normalized text.
//
// A lexicon file (YAML or JSON) has entries, each a finding kind with its
// terms; allow phrases, innocent words that cancel any hit they cover
// (傻瓜相机 covers 傻瓜); and named sets of context terms a detector consults
// (negations, app names, card keywords). Terms are normalized with the same
// Normalizer as messages, so a traditional or full-width term matches its
// simplified, half-width form.
package lexicon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// File is the editable form of a lexicon.
type File struct {
	// Version is a label for people; the matcher's own Version is a hash
	// of the whole content.
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
	// Entries are the terms that produce findings.
	Entries []Entry `json:"entries" yaml:"entries"`
	// Allow lists innocent phrases: a hit inside one of them is dropped.
	Allow []string `json:"allow,omitempty" yaml:"allow,omitempty"`
	// Sets are named lists of context terms, reported as hits with Set set
	// and never as findings by themselves.
	Sets map[string][]string `json:"sets,omitempty" yaml:"sets,omitempty"`
}

// Entry is a group of terms that mean the same finding.
type Entry struct {
	// ID names the entry in findings ("lexicon" field) and reasons.
	ID string `json:"id" yaml:"id"`
	// Kind is the taxonomy kind (rude, guarantee …).
	Kind string `json:"kind" yaml:"kind"`
	// Severity of a finding from this entry; zero means info.
	Severity detectors.Severity `json:"severity" yaml:"severity"`
	// Score is the confidence 0..1; zero means 0.8.
	Score float64 `json:"score,omitempty" yaml:"score,omitempty"`
	// Terms are the phrases that match.
	Terms []string `json:"terms" yaml:"terms"`
}

// Parse reads a lexicon file in YAML (or JSON, a subset of YAML).
func Parse(data []byte) (File, error) {
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return File{}, fmt.Errorf("parse lexicon: %w", err)
	}
	return f, nil
}

// FromData converts a lexicon held in a policy bundle's data document (a
// decoded JSON value) into a File.
func FromData(v any) (File, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return File{}, fmt.Errorf("lexicon from bundle data: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("lexicon from bundle data: %w", err)
	}
	return f, nil
}

// Hit is one match in normalized text. Start and End are byte offsets in
// the normalized text. Exactly one of Entry and Set is set.
type Hit struct {
	Entry      *Entry
	Set        string
	Start, End int
}

// Lexicon is a compiled lexicon. It is immutable and safe for concurrent use.
type Lexicon struct {
	file    File
	version string
	ac      *automaton
	pats    []pattern // by automaton pattern index
	terms   []string  // by automaton pattern index, normalized (for a Scanner)
	empty   bool
}

type pattern struct {
	entry  *Entry
	set    string
	allow  bool
	wordL  bool // the term starts with an ASCII letter or digit: needs a boundary
	wordR  bool
	length int
}

// Compile normalizes every term with n and builds the automaton. It checks
// that every entry has an id, a kind in kinds (when kinds is not nil) and at
// least one term.
func Compile(f File, n *normalize.Normalizer, kinds []string) (*Lexicon, error) {
	var errs []error
	l := &Lexicon{file: f}
	seen := map[string]bool{}
	var terms []string
	add := func(term string, p pattern) {
		norm := n.Normalize(term).Norm
		norm = strings.TrimSpace(norm)
		if norm == "" {
			return
		}
		p.wordL = textscan.IsWordByte(norm[0])
		p.wordR = textscan.IsWordByte(norm[len(norm)-1])
		p.length = len(norm)
		terms = append(terms, norm)
		l.pats = append(l.pats, p)
		// People drop apostrophes ("dont", "cant"); typographic ones are
		// already folded to ASCII by the normalizer.
		if bare := strings.ReplaceAll(norm, "'", ""); bare != norm && bare != "" {
			p.wordL, p.wordR, p.length = textscan.IsWordByte(bare[0]), textscan.IsWordByte(bare[len(bare)-1]), len(bare)
			terms = append(terms, bare)
			l.pats = append(l.pats, p)
		}
	}
	for i := range f.Entries {
		e := &f.Entries[i]
		switch {
		case e.ID == "":
			errs = append(errs, fmt.Errorf("entry %d: no id", i))
			continue
		case seen[e.ID]:
			errs = append(errs, fmt.Errorf("entry %s: duplicate id", e.ID))
		case kinds != nil && !slices.Contains(kinds, e.Kind):
			errs = append(errs, fmt.Errorf("entry %s: unknown kind %q (want one of %s)", e.ID, e.Kind, strings.Join(kinds, ", ")))
		case len(e.Terms) == 0:
			errs = append(errs, fmt.Errorf("entry %s: no terms", e.ID))
		case e.Score < 0 || e.Score > 1:
			errs = append(errs, fmt.Errorf("entry %s: score %v outside 0..1", e.ID, e.Score))
		}
		seen[e.ID] = true
		if e.Score == 0 {
			e.Score = 0.8
		}
		for _, t := range e.Terms {
			add(t, pattern{entry: e})
		}
	}
	for _, t := range f.Allow {
		add(t, pattern{allow: true})
	}
	names := make([]string, 0, len(f.Sets))
	for name := range f.Sets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, t := range f.Sets[name] {
			add(t, pattern{set: name})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compile lexicon: %w", err)
	}
	canon, _ := json.Marshal(f)
	sum := sha256.Sum256(canon)
	l.version = hex.EncodeToString(sum[:8])
	l.empty = len(terms) == 0
	if !l.empty {
		l.ac = buildAutomaton(terms)
	}
	l.terms = terms
	return l, nil
}

// Version is a hash of the lexicon's content; it changes whenever any term,
// entry or set changes, so caches keyed by it never serve stale findings.
func (l *Lexicon) Version() string { return l.version }

// File returns the lexicon as it was compiled.
func (l *Lexicon) File() File { return l.file }

// Match appends to dst every entry and set hit in norm, in order of Start,
// and returns the extended slice. Hits covered by an allow phrase are
// dropped; a term whose edge is an ASCII letter or digit matches only at a
// word boundary, so "sb" does not match inside "usb".
func (l *Lexicon) Match(norm string, dst []Hit) []Hit {
	if l.empty || norm == "" {
		return dst
	}
	first := len(dst)
	var allowBuf [8][2]int
	allows := allowBuf[:0]
	l.ac.each(norm, func(id, s, e int) { dst, allows = l.occurrence(norm, id, s, e, dst, allows) })
	return finish(dst, first, allows)
}

// MatchText is Match on t.Norm, from the pass a Scanner of l's already
// made over t (Scanner.Scan) when there is one.
func (l *Lexicon) MatchText(t *normalize.Text, dst []Hit) []Hit {
	if l.empty || t.Norm == "" {
		return dst
	}
	memo := t.Memo(scanKey{})
	if memo == nil {
		return l.Match(t.Norm, dst)
	}
	sc := memo.Value.(*scan)
	i, ok := sc.s.index[l.version]
	if !ok || sc.s.count[i] != len(l.terms) || sc.norm != t.Norm {
		return l.Match(t.Norm, dst)
	}
	first := len(dst)
	var allowBuf [8][2]int
	allows := allowBuf[:0]
	for _, o := range sc.occ {
		if int(o.lex) == i {
			dst, allows = l.occurrence(t.Norm, int(o.id), int(o.start), int(o.end), dst, allows)
		}
	}
	return finish(dst, first, allows)
}

// occurrence takes the automaton's occurrence of pattern id at
// norm[s:e]: a hit appended to dst, an allow phrase's span to allows, or
// nothing when the term needs a word boundary there.
func (l *Lexicon) occurrence(norm string, id, s, e int, dst []Hit, allows [][2]int) ([]Hit, [][2]int) {
	p := &l.pats[id]
	if p.wordL && s > 0 && textscan.IsWordByte(norm[s-1]) || p.wordR && e < len(norm) && textscan.IsWordByte(norm[e]) {
		return dst, allows
	}
	if p.allow {
		return dst, append(allows, [2]int{s, e})
	}
	return append(dst, Hit{Entry: p.entry, Set: p.set, Start: s, End: e}), allows
}

// finish drops the hits after first that an allow phrase covers and
// orders them by Start.
func finish(dst []Hit, first int, allows [][2]int) []Hit {
	if len(allows) > 0 {
		kept := dst[:first]
		for _, h := range dst[first:] {
			covered := false
			for _, a := range allows {
				if a[0] <= h.Start && h.End <= a[1] {
					covered = true
					break
				}
			}
			if !covered {
				kept = append(kept, h)
			}
		}
		dst = kept
	}
	slices.SortStableFunc(dst[first:], func(a, b Hit) int { return a.Start - b.Start })
	return dst
}

// Embedded parses the lexicon a detector family embeds in the binary; an
// error there is a build defect, reported with the family's name.
func Embedded(family string, data []byte) (File, error) {
	f, err := Parse(data)
	if err != nil {
		return File{}, fmt.Errorf("%s: embedded lexicon: %w", family, err)
	}
	return f, nil
}

// BuildEmbedded builds a family's detector from its embedded lexicon with
// the family's own constructor.
func BuildEmbedded[D any](family string, data []byte, build func(File) (D, error)) (D, error) {
	f, err := Embedded(family, data)
	if err != nil {
		var zero D
		return zero, err
	}
	return build(f)
}

// Extend returns f with ext's entries and allow phrases appended and its
// sets' terms added to f's sets of the same name: a tenant's additions on
// top of the shared lexicon, which it cannot weaken. Neither file is
// modified.
func (f File) Extend(ext File) File {
	out := File{
		Version: f.Version,
		Entries: slices.Concat(f.Entries, ext.Entries),
		Allow:   slices.Concat(f.Allow, ext.Allow),
	}
	if ext.Version != "" {
		out.Version = f.Version + "+" + ext.Version
	}
	if len(f.Sets)+len(ext.Sets) > 0 {
		out.Sets = make(map[string][]string, len(f.Sets)+len(ext.Sets))
		for k, v := range f.Sets {
			out.Sets[k] = slices.Clone(v)
		}
		for k, v := range ext.Sets {
			out.Sets[k] = append(out.Sets[k], v...)
		}
	}
	return out
}
