// Package lexdetect is the skeleton the lexicon-backed detector families
// share: a Base that holds a family's name and compiled lexicon (and so
// gives its detector Name and Version), a Claim that says what one lexicon
// hit reports, and Scan, which turns the hits of a message into findings
// through a family's own rules. Each family wrote this skeleton out once
// per package before; one copy keeps them alike.
package lexdetect

import (
	"fmt"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Base is embedded in a lexicon-backed detector: it provides the
// detector's Name and Version and its compiled lexicon. It is immutable
// after Compile and safe for concurrent use.
type Base struct {
	name string
	lex  *lexicon.Lexicon
}

// Compile compiles f for the family name, whose entries must be of one of
// kinds, with the normalizer messages go through. Its errors start with the
// family's name, as the registry promises of every family's New.
func Compile(name string, f lexicon.File, kinds []string) (Base, error) {
	l, err := lexicon.Compile(f, normalize.Default(), kinds)
	if err != nil {
		return Base{}, fmt.Errorf("%s: %w", name, err)
	}
	return Base{name: name, lex: l}, nil
}

// Name returns the detector family, the first half of its findings'
// taxonomy names.
func (b *Base) Name() string { return b.name }

// Version returns the lexicon's content hash, which changes whenever the
// lexicon does (see detectors.Versioner).
func (b *Base) Version() string { return b.lex.Version() }

// Lexicon returns the compiled lexicon the detector matches. It is shared,
// not a copy, and immutable.
func (b *Base) Lexicon() *lexicon.Lexicon { return b.lex }

// Claim is what one lexicon hit reports, read in its context: a finding of
// Entry's kind, lexicon id and severity, with Score, over the normalized
// byte range [Start, End). Entry is the lexicon entry that was hit, or a
// family's rule entry for a finding built from sets (an intensifier
// followed by an outcome); a family's rule may raise Score above the
// entry's and widen the span past the hit. A Claim is four words, so a
// ClaimFunc returns it in registers.
type Claim struct {
	Entry      *lexicon.Entry
	Score      float64
	Start, End int
}

// EntryClaim returns the claim of entry e over [start, end) with the
// entry's score.
func EntryClaim(e *lexicon.Entry, start, end int) Claim {
	return Claim{Entry: e, Score: e.Score, Start: start, End: end}
}

// Finding returns c as a finding of the detector family without its span
// and evidence, for a merge that sets them (textscan.Merge).
func (c Claim) Finding(family string) detectors.Finding {
	e := c.Entry
	return detectors.Finding{Detector: family, Kind: e.Kind, Severity: e.Severity, Score: c.Score, Lexicon: e.ID}
}

// At returns c as a finding of the detector family with its span and
// evidence in the original text of t.
func (c Claim) At(t *normalize.Text, family string) detectors.Finding {
	f := c.Finding(family)
	f.Start, f.End = t.Span(c.Start, c.End)
	f.Evidence = t.OrigText(f.Start, f.End)
	return f
}

// A ClaimFunc is a family's rule for what hits[i] claims in the normalized
// text norm, read against the other hits (in order of Start) of detector d.
// It returns false when the hit claims nothing.
type ClaimFunc[D any] func(d D, norm string, hits []lexicon.Hit, i int) (Claim, bool)

// A MergeFunc is a family's rule for recording claim c in dst: it joins c
// with a finding of the current message (dst[first:]) as the family says,
// or appends it, and returns dst.
type MergeFunc func(t *normalize.Text, dst []detectors.Finding, first int, c Claim) []detectors.Finding

// Overlap returns the first finding in fs whose span overlaps [start, end)
// (it starts before end and ends after start) and, unless kind is "", is of
// kind; nil when none does. A MergeFunc uses it to find the finding of the
// current message that a claim joins.
func Overlap(fs []detectors.Finding, kind string, start, end int) *detectors.Finding {
	for i := range fs {
		o := &fs[i]
		if (kind == "" || o.Kind == kind) && o.Start < end && start < o.End {
			return o
		}
	}
	return nil
}

// Scan appends to dst the findings of detector d in t, whose lexicon hits
// are hits: each hit, in order, claims what claim says, and merge records
// the claim among the findings this call added.
//
// Scan is kept small enough to inline. Inlined into a Detect that passes a
// method expression and a function, claim and merge are known where they
// are called, so the compiler sees that they keep no reference to the
// hits, and a hit buffer on Detect's stack stays there: the hot path does
// not allocate (TestScanDoesNotAllocate). Called through an interface, or
// from a Scan that no longer inlines, the hits would escape to the heap.
func Scan[D any](d D, t *normalize.Text, hits []lexicon.Hit, dst []detectors.Finding, claim ClaimFunc[D], merge MergeFunc) []detectors.Finding {
	first := len(dst)
	for i := range hits {
		if c, ok := claim(d, t.Norm, hits, i); ok {
			dst = merge(t, dst, first, c)
		}
	}
	return dst
}
