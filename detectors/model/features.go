package model

import (
	"unicode"
	"unicode/utf8"
)

// The features of a text, version 2 (FeatureSet): every character n-gram
// of length 1 to 4 of the normalized text, with a start and an end marker
// around it, runs of white space folded to one space and runs of three or
// more ASCII digits folded to one number mark, and every word
// and pair of adjacent words of its ASCII words (letters, digits and the
// symbols people spell words with: f*ck, sh1t, a$$). Each feature is
// hashed to 32 bits (FNV-1a over its code points, a seed per feature kind,
// then the murmur3 finalizer); the model keeps a weight per label for each
// bucket of the hash's top bits, and the lowest bit signs the feature, so
// that colliding features cancel out on average rather than add up.
//
// Numbers are folded because their digits say nothing of tone while their
// n-grams would weigh as much as the words: "这个问题我已经回答过三遍了"
// followed by an order number or a phone would have its signal diluted
// under the threshold by a dozen digits (version 1 did that). One or two
// digits stay as they are: "3遍", "问了5次".
//
// The trainer and the detector call the same function, so a model always
// sees the features it was trained on.

// FeatureSet names the feature extraction a model was trained with; Parse
// refuses a model trained with another.
const FeatureSet = "xunjian.features/v2"

// maxN is the longest character n-gram.
const maxN = 4

// Pseudo code points around the text, and for a number.
const (
	bos = 0x02
	eos = 0x03
	num = 0x04
)

// minNumber is the shortest run of ASCII digits folded to num.
const minNumber = 3

// Seeds of the feature kinds: character n-grams of each length, words,
// word pairs.
const (
	seedChar  = 0x9e3779b1
	seedWord  = 0x85ebca77
	seedPair  = 0xc2b2ae3d
	fnvPrime  = 16777619
	fnvOffset = 2166136261
)

// forEachFeature calls fn with the hash of every feature of norm, a
// normalized text (see the comment above), in order. It does not allocate.
func forEachFeature(norm string, fn func(h uint32)) {
	var ring [maxN]rune // the last code points, ring[i%maxN]
	n := 0              // code points seen, markers included
	push := func(r rune) {
		ring[n%maxN] = r
		n++
		for k := 1; k <= maxN && k <= n; k++ {
			h := uint32(fnvOffset) ^ seedChar ^ uint32(k)
			for j := n - k; j < n; j++ {
				h ^= uint32(ring[j%maxN])
				h *= fnvPrime
			}
			fn(fmix(h))
		}
	}
	var (
		word, prev uint32 // hashes of the word being read and the one before
		inWord     bool
		havePrev   bool
	)
	endWord := func() {
		if !inWord {
			return
		}
		fn(fmix(word ^ seedWord))
		if havePrev {
			fn(fmix((prev*fnvPrime ^ word) ^ seedPair))
		}
		prev, havePrev, inWord = word, true, false
	}
	push(bos)
	space := false
	for i := 0; i < len(norm); {
		r, size := utf8.DecodeRuneInString(norm[i:])
		if d := digits(norm[i:]); d >= minNumber {
			r, size = num, d
		}
		i += size
		if isWordRune(r) {
			if !inWord {
				word, inWord = fnvOffset, true
			}
			word = (word ^ uint32(r)) * fnvPrime
		} else {
			endWord()
			if !isSpace(r) && !unicode.IsPunct(r) {
				havePrev = false // a Chinese character or a symbol parts words
			}
		}
		if isSpace(r) {
			if space {
				continue
			}
			space, r = true, ' '
		} else {
			space = false
		}
		push(r)
	}
	endWord()
	push(eos)
}

// isWordRune reports whether r belongs to an ASCII word: letters and
// digits (the text is lower case) and the symbols used to spell words
// around filters.
func isWordRune(r rune) bool {
	return r == num || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'' || r == '*' || r == '$' || r == '@' || r == '!'
}

// digits returns the length of the run of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// fmix is the murmur3 32-bit finalizer: it spreads the bits of h, so that
// the top bits index buckets and the lowest one signs evenly.
func fmix(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
