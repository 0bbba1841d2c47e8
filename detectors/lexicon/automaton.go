package lexicon

// automaton is an Aho-Corasick automaton compiled to a DFA over byte
// classes. It reports every occurrence of every pattern, overlapping ones
// included, without allocating.
//
// We use it instead of github.com/petar-dambovaliev/aho-corasick on the hot
// path: that library allocates a Match per hit and an iterator per call, and
// BenchmarkMatchLibrary against BenchmarkMatch in lexicon_test.go shows it
// several times slower on a 100-character message.
type automaton struct {
	class    [256]uint16
	nclass   int
	delta    []int32 // delta[state*nclass+class] = next state
	outStart []int32 // outputs of state s are outs[outStart[s]:outStart[s+1]]
	outs     []int32 // pattern ids
	lens     []int32 // byte length of each pattern
}

func buildAutomaton(patterns []string) *automaton {
	a := &automaton{}
	// Byte classes: one per byte that occurs in a pattern, 0 for the rest.
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			if a.class[p[i]] == 0 {
				a.nclass++
				a.class[p[i]] = uint16(a.nclass)
			}
		}
	}
	a.nclass++
	nc := a.nclass

	// The trie, with transitions stored straight into delta.
	a.delta = make([]int32, nc) // state 0, the root
	own := [][]int32{nil}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := int32(a.class[p[i]])
			next := a.delta[s*int32(nc)+c]
			if next == 0 {
				next = int32(len(own))
				own = append(own, nil)
				a.delta = append(a.delta, make([]int32, nc)...)
				a.delta[s*int32(nc)+c] = next
			}
			s = next
		}
		own[s] = append(own[s], int32(id))
		a.lens = append(a.lens, int32(len(p)))
	}

	// Breadth first: failure links, missing transitions and outputs.
	n := len(own)
	fail := make([]int32, n)
	outs := make([][]int32, n)
	queue := make([]int32, 0, n)
	for c := range nc {
		if t := a.delta[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	outs[0] = own[0]
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		outs[s] = append(own[s], outs[fail[s]]...)
		for c := range nc {
			t := a.delta[int(s)*nc+c]
			f := a.delta[int(fail[s])*nc+c]
			if t != 0 {
				fail[t] = f
				queue = append(queue, t)
			} else {
				a.delta[int(s)*nc+c] = f
			}
		}
	}
	a.outStart = make([]int32, n+1)
	for s := range n {
		a.outs = append(a.outs, outs[s]...)
		a.outStart[s+1] = int32(len(a.outs))
	}
	return a
}

// each calls fn(pattern, start, end) for every occurrence in text, in order
// of end, then of longer pattern first.
func (a *automaton) each(text string, fn func(id, start, end int)) {
	nc := int32(a.nclass)
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = a.delta[s*nc+int32(a.class[text[i]])]
		for _, id := range a.outs[a.outStart[s]:a.outStart[s+1]] {
			fn(int(id), i+1-int(a.lens[id]), i+1)
		}
	}
}
