package lexicon

import "github.com/xunjian/xunjian/detectors/normalize"

// Scanner matches a message against several lexicons in one pass over
// its bytes. Each lexicon's automaton is a table of megabytes, and every
// byte of a message is a look-up in it that mostly misses the CPU's
// caches: the detector families (tone, privacy, diversion, commitment,
// complaint) each matching their own lexicon read the message five times
// over five tables. A Scanner's automaton holds every pattern of its
// lexicons; Scan makes the one pass and keeps the occurrences with the
// Text, and each family's Lexicon.MatchText takes its own from there,
// giving exactly what its Match would. A Scanner is immutable and safe
// for concurrent use.
type Scanner struct {
	ac   *automaton
	from []origin // by the Scanner's pattern index
	// index holds the lexicons' indexes by version: a lexicon compiled
	// again from the same file (a tenant's copy) has the same patterns in
	// the same order, so the Scanner serves it too.
	index map[string]int
	count []int // each lexicon's number of patterns, checked on use
}

// origin is where a Scanner's pattern comes from: a lexicon (its index)
// and that lexicon's own pattern index.
type origin struct{ lex, id int32 }

// NewScanner returns a Scanner of the distinct, non-empty lexicons in
// lexs, or nil when there are fewer than two (nothing to share).
func NewScanner(lexs ...*Lexicon) *Scanner {
	s := &Scanner{index: map[string]int{}}
	var terms []string
	for _, l := range lexs {
		if l == nil || l.empty {
			continue
		}
		if _, dup := s.index[l.version]; dup {
			continue
		}
		i := len(s.index)
		s.index[l.version] = i
		s.count = append(s.count, len(l.terms))
		for id, t := range l.terms {
			terms = append(terms, t)
			s.from = append(s.from, origin{int32(i), int32(id)})
		}
	}
	if len(s.index) < 2 {
		return nil
	}
	s.ac = buildAutomaton(terms)
	return s
}

// Covers reports whether s matches every lexicon of lexs (or one of the
// same content): a Scanner built for one detector set serves another that
// uses the same lexicons.
func (s *Scanner) Covers(lexs ...*Lexicon) bool {
	if s == nil {
		return false
	}
	for _, l := range lexs {
		if l == nil || l.empty {
			continue
		}
		if i, ok := s.index[l.version]; !ok || s.count[i] != len(l.terms) {
			return false
		}
	}
	return true
}

// scanKey is the owner of a Scanner's memo on a Text: one scan per text
// serves whichever lexicons it covers.
type scanKey struct{}

// scan is a Scanner's pass over one text: every occurrence, in the
// automaton's order.
type scan struct {
	s    *Scanner
	norm string
	occ  []occurrence
	memo normalize.Memo
	// buf holds the occurrences of most messages, so that a scan is one
	// allocation.
	buf [24]occurrence
}

type occurrence struct{ lex, id, start, end int32 }

// Scan matches t.Norm against every lexicon of s and keeps the
// occurrences with t, for their MatchText. A nil Scanner does nothing.
func (s *Scanner) Scan(t *normalize.Text) {
	if s == nil || t.Norm == "" {
		return
	}
	sc := &scan{s: s, norm: t.Norm}
	sc.occ = sc.buf[:0]
	s.ac.each(t.Norm, func(id, start, end int) {
		o := s.from[id]
		sc.occ = append(sc.occ, occurrence{o.lex, o.id, int32(start), int32(end)})
	})
	sc.memo = normalize.Memo{Owner: scanKey{}, Value: sc}
	t.SetMemo(&sc.memo)
}
