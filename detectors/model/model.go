// Package model is Xunjian's learned text classifier: a linear model over
// hashed character and word n-grams of the normalized text (see
// FeatureSet), one calibrated probability per label. It judges what word
// lists cannot enumerate: implicit rudeness, sarcasm, brush-offs,
// impatience, disguised profanity in agent drafts, and escalation in
// customer messages.
//
// Inference is pure Go, allocation-free and a few microseconds for a chat
// message: the weights are 8-bit integers, one per label and hash bucket,
// laid out so that one feature touches one cache line. A model is built
// by package model/train from the data in the repository and shipped in
// the binary (Default); a policy bundle may carry another (Parse).
package model

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Magic starts every model file.
const Magic = "XJMODEL1"

// MaxLabels bounds how many labels a model may have.
const MaxLabels = 16

// Bounds of a model's hash table: 2^MinBits to 2^MaxBits buckets.
const (
	MinBits = 8
	MaxBits = 24
)

//go:embed default.xjm
var defaultModel []byte

// Model is a trained classifier. It is immutable and safe for concurrent
// use.
type Model struct {
	head    Header
	w       []int8 // w[bucket*len(labels) + label]
	version string
}

// Header is what a model file says about itself, before its weights.
type Header struct {
	// Features is the feature extraction the model was trained with; it
	// must be FeatureSet.
	Features string `json:"features"`
	// Labels are the model's outputs, as taxonomy names ("tone.rude").
	Labels []string `json:"labels"`
	// Bits is log2 of the number of hash buckets.
	Bits int `json:"bits"`
	// Scale turns a label's integer weights into its float ones.
	Scale []float32 `json:"scale"`
	// Bias is each label's intercept.
	Bias []float32 `json:"bias"`
	// CalA and CalB calibrate each label's score z into a probability,
	// sigmoid(CalA*z + CalB) (Platt scaling on held-back data).
	CalA []float32 `json:"cal_a"`
	CalB []float32 `json:"cal_b"`
	// Training describes how the model was made: data digest, seed,
	// options (for people; the model does not read it).
	Training map[string]any `json:"training,omitempty"`
}

// New builds a model from its header and weights (len(w) must be
// 2^h.Bits * len(h.Labels)), as the trainer does. The model keeps w.
func New(h Header, w []int8) (*Model, error) {
	if err := h.check(len(w)); err != nil {
		return nil, err
	}
	m := &Model{head: h, w: w}
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	m.version = hex.EncodeToString(sum[:8])
	return m, nil
}

func (h *Header) check(weights int) error {
	nl := len(h.Labels)
	switch {
	case h.Features != FeatureSet:
		return fmt.Errorf("model: features %q: this build computes %q", h.Features, FeatureSet)
	case nl == 0 || nl > MaxLabels:
		return fmt.Errorf("model: %d labels: want 1 to %d", nl, MaxLabels)
	case h.Bits < MinBits || h.Bits > MaxBits:
		return fmt.Errorf("model: bits %d: want %d to %d", h.Bits, MinBits, MaxBits)
	case len(h.Scale) != nl || len(h.Bias) != nl || len(h.CalA) != nl || len(h.CalB) != nl:
		return fmt.Errorf("model: scale, bias and calibration need one value per label (%d)", nl)
	case weights != nl<<h.Bits:
		return fmt.Errorf("model: %d weights: want %d (2^%d buckets × %d labels)", weights, nl<<h.Bits, h.Bits, nl)
	}
	for i, l := range h.Labels {
		if l == "" || slices.Contains(h.Labels[:i], l) {
			return fmt.Errorf("model: label %q empty or repeated", l)
		}
	}
	for _, vs := range [][]float32{h.Scale, h.Bias, h.CalA, h.CalB} {
		for _, v := range vs {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return errors.New("model: a scale, bias or calibration value is not a finite number")
			}
		}
	}
	return nil
}

// Parse reads a model file: Magic, the header's length (uint32, little
// endian), the header as JSON, then the weights, one signed byte each.
func Parse(b []byte) (*Model, error) {
	if !bytes.HasPrefix(b, []byte(Magic)) {
		return nil, errors.New("model: not a model file (no " + Magic + " magic)")
	}
	b = b[len(Magic):]
	if len(b) < 4 {
		return nil, errors.New("model: file cut short")
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, errors.New("model: file cut short in its header")
	}
	var h Header
	if err := json.Unmarshal(b[:n], &h); err != nil {
		return nil, fmt.Errorf("model: header: %w", err)
	}
	w := make([]int8, len(b)-int(n))
	for i, c := range b[n:] {
		w[i] = int8(c)
	}
	return New(h, w)
}

// Default returns the model built into the binary (built by `xunjian model
// train` from the data in the repository).
func Default() (*Model, error) {
	m, err := Parse(defaultModel)
	if err != nil {
		return nil, fmt.Errorf("embedded model: %w", err)
	}
	return m, nil
}

// MarshalBinary encodes m as Parse reads it. The encoding is
// deterministic: the same model gives the same bytes.
func (m *Model) MarshalBinary() ([]byte, error) {
	head, err := json.Marshal(m.head)
	if err != nil {
		return nil, fmt.Errorf("model: header: %w", err)
	}
	out := make([]byte, 0, len(Magic)+4+len(head)+len(m.w))
	out = append(out, Magic...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(head)))
	out = append(out, head...)
	for _, v := range m.w {
		out = append(out, byte(v))
	}
	return out, nil
}

// Version identifies the model: the first 16 hex digits of the SHA-256 of
// its encoding. Findings and decision cache keys carry it.
func (m *Model) Version() string { return m.version }

// Labels returns the model's labels, in the order Scores writes them. The
// caller gets its own copy.
func (m *Model) Labels() []string { return slices.Clone(m.head.Labels) }

// Header returns the model's header; its slices are the caller's.
func (m *Model) Header() Header {
	h := m.head
	h.Labels, h.Scale, h.Bias = slices.Clone(h.Labels), slices.Clone(h.Scale), slices.Clone(h.Bias)
	h.CalA, h.CalB = slices.Clone(h.CalA), slices.Clone(h.CalB)
	return h
}

// Scores writes the probability of each label for norm, a text as
// detectors/normalize folds it, into out, which must hold one value per
// label. It does not allocate.
func (m *Model) Scores(norm string, out []float32) {
	var z [MaxLabels]float32
	m.logits(norm, z[:len(m.head.Labels)])
	for l := range m.head.Labels {
		out[l] = sigmoid(m.head.CalA[l]*z[l] + m.head.CalB[l])
	}
}

// logits writes each label's uncalibrated score for norm into z.
func (m *Model) logits(norm string, z []float32) {
	nl := len(m.head.Labels)
	var acc [MaxLabels]int32
	n := 0
	shift := 32 - m.head.Bits
	forEachFeature(norm, func(h uint32) {
		row := m.w[int(h>>shift)*nl:][:nl]
		if h&1 == 0 {
			for l, v := range row {
				acc[l] += int32(v)
			}
		} else {
			for l, v := range row {
				acc[l] -= int32(v)
			}
		}
		n++
	})
	inv := 1 / float32(math.Sqrt(float64(max(n, 1))))
	for l := range nl {
		z[l] = m.head.Bias[l] + float32(acc[l])*m.head.Scale[l]*inv
	}
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }
