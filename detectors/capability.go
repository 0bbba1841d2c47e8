package detectors

// The interfaces below are optional capabilities of a Detector. A caller
// that can use one finds it with a type assertion on the Detector, so a
// family that lacks it needs no stub, and the Detector interface stays two
// methods.

// Versioner is a detector whose findings depend on data it was built from
// (a lexicon, an allowlist). Version identifies that data: it changes
// whenever the data changes, so a cache of findings keyed by it never
// serves findings of older data. The pipeline joins its detectors' versions
// into the lexicon version it shows and keys its caches with.
type Versioner interface {
	Version() string
}

// Keyworder is a detector that can list keywords without which it never
// reports a finding: a message in which none of them occurs needs no call
// to Detect, which lets a keyword prefilter skip the detector. Keywords are
// in normalized form (as detectors/normalize produces it) and are matched
// as substrings of the normalized text.
//
// A detector implements Keyworder only when the list is complete. Returning
// nil or an empty list claims that the detector never fires, so a detector
// without a complete list does not implement Keyworder at all, and a
// prefilter runs it on every message. No detector implements it yet:
// privacy and link find shapes (digit runs, host names) with no fixed
// keyword, and tone also finds obfuscated spellings of its words (f*ck,
// f u c k). Diversion, commitment and complaint fire only on terms of their
// lexicons, so they could list them once the lexicon exposes its
// normalized terms; that belongs with the prefilter that will use them.
type Keyworder interface {
	Keywords() []string
}
