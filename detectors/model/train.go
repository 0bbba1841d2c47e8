package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Example is one training or calibration text.
type Example struct {
	// Text is the text as detectors/normalize folds it.
	Text string
	// Labels has bit l set when the text is an instance of label l.
	Labels uint16
	// Mask has bit l set when the example teaches label l at all: a
	// customer message says nothing about an agent's tone, so it does not
	// count as a negative for it.
	Mask uint16
	// Weight scales the example's loss; auxiliary data (corpora labelled
	// for another purpose) gets less than the hand-labelled set.
	Weight float32
}

// TrainOptions configure Train. Zero fields take the defaults named.
type TrainOptions struct {
	// Labels are the model's outputs; required.
	Labels []string
	// Bits is log2 of the hash buckets; default 18.
	Bits int
	// Epochs over the training set; default 12.
	Epochs int
	// Rate is AdaGrad's learning rate; default 0.2.
	Rate float64
	// L2 is the weight decay applied to the weights a step touches;
	// default 1e-6.
	L2 float64
	// MaxPositiveWeight caps how much more a label's positive examples
	// weigh than its negatives when they are fewer (the weight is the
	// ratio of the two, at least 1); default 3.
	MaxPositiveWeight float64
	// Seed orders the examples of each epoch; the same examples, options
	// and seed give the same model, byte for byte.
	Seed uint64
	// Meta is written to the model's header as Training.
	Meta map[string]any
}

// Train fits one logistic regression per label on train, over the hashed
// features of FeatureSet, with AdaGrad and positives weighted up toward
// their label's negatives (at most MaxPositiveWeight times), then quantizes the weights to
// 8 bits and calibrates each label's probability on calib (Platt scaling),
// which should be data the weights were not fitted on. It is
// deterministic.
func Train(train, calib []Example, opts TrainOptions) (*Model, error) {
	nl := len(opts.Labels)
	if nl == 0 || nl > MaxLabels {
		return nil, fmt.Errorf("train: %d labels: want 1 to %d", nl, MaxLabels)
	}
	if len(train) == 0 {
		return nil, errors.New("train: no training examples")
	}
	if opts.Bits == 0 {
		opts.Bits = 18
	}
	if opts.Epochs == 0 {
		opts.Epochs = 12
	}
	if opts.Rate == 0 {
		opts.Rate = 0.2
	}
	if opts.L2 == 0 {
		opts.L2 = 1e-6
	}
	if opts.MaxPositiveWeight == 0 {
		opts.MaxPositiveWeight = 3
	}
	if opts.Bits < MinBits || opts.Bits > MaxBits {
		return nil, fmt.Errorf("train: bits %d: want %d to %d", opts.Bits, MinBits, MaxBits)
	}
	feats := make([][]uint32, len(train))
	for i, ex := range train {
		forEachFeature(ex.Text, func(h uint32) { feats[i] = append(feats[i], h) })
	}
	// Positives weighed up to the negatives of their label.
	var pos, neg [MaxLabels]float64
	for _, ex := range train {
		for l := range nl {
			if ex.Mask&(1<<l) == 0 {
				continue
			}
			if ex.Labels&(1<<l) != 0 {
				pos[l] += float64(ex.Weight)
			} else {
				neg[l] += float64(ex.Weight)
			}
		}
	}
	var posWeight [MaxLabels]float64
	for l := range nl {
		posWeight[l] = 1
		if pos[l] > 0 {
			posWeight[l] = min(opts.MaxPositiveWeight, max(1, neg[l]/pos[l]))
		}
	}

	shift := 32 - opts.Bits
	w := make([]float64, nl<<opts.Bits)
	g2 := make([]float64, len(w))
	bias, gb := make([]float64, nl), make([]float64, nl)
	order := make([]int, len(train))
	var z, grad [MaxLabels]float64
	for epoch := range opts.Epochs {
		for i := range order {
			order[i] = i
		}
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			ex, fs := &train[i], feats[i]
			inv := 1 / math.Sqrt(float64(max(len(fs), 1)))
			for l := range nl {
				z[l] = bias[l]
			}
			for _, h := range fs {
				row := w[int(h>>shift)*nl:][:nl]
				s := sign(h) * inv
				for l := range nl {
					z[l] += s * row[l]
				}
			}
			active := false
			for l := range nl {
				grad[l] = 0
				if ex.Mask&(1<<l) == 0 {
					continue
				}
				p, y, c := 1/(1+math.Exp(-z[l])), 0.0, float64(ex.Weight)
				if ex.Labels&(1<<l) != 0 {
					y, c = 1, c*posWeight[l]
				}
				grad[l], active = (p-y)*c, true
			}
			if !active {
				continue
			}
			for l := range nl {
				if g := grad[l]; g != 0 {
					gb[l] += g * g
					bias[l] -= opts.Rate * g / math.Sqrt(gb[l]+1e-8)
				}
			}
			for _, h := range fs {
				k := int(h>>shift) * nl
				s := sign(h) * inv
				for l := range nl {
					if grad[l] == 0 {
						continue
					}
					gw := grad[l]*s + opts.L2*w[k+l]
					g2[k+l] += gw * gw
					w[k+l] -= opts.Rate * gw / math.Sqrt(g2[k+l]+1e-8)
				}
			}
		}
	}

	// 8-bit weights, one scale per label.
	h := Header{
		Features: FeatureSet, Labels: append([]string(nil), opts.Labels...), Bits: opts.Bits,
		Scale: make([]float32, nl), Bias: make([]float32, nl), CalA: make([]float32, nl), CalB: make([]float32, nl),
		Training: opts.Meta,
	}
	q := make([]int8, len(w))
	for l := range nl {
		peak := 0.0
		for k := l; k < len(w); k += nl {
			peak = max(peak, math.Abs(w[k]))
		}
		scale := peak / 127
		if scale == 0 {
			scale = 1
		}
		for k := l; k < len(w); k += nl {
			q[k] = int8(math.Round(w[k] / scale))
		}
		h.Scale[l], h.Bias[l], h.CalA[l] = float32(scale), float32(bias[l]), 1
	}
	m, err := New(h, q)
	if err != nil {
		return nil, err
	}
	// Calibrate the quantized model's scores on held-back data.
	if len(calib) > 0 {
		zs := make([][]float32, len(calib))
		for i, ex := range calib {
			zs[i] = make([]float32, nl)
			m.logits(ex.Text, zs[i])
		}
		for l := range nl {
			var xs, ys []float64
			for i, ex := range calib {
				if ex.Mask&(1<<l) == 0 {
					continue
				}
				xs = append(xs, float64(zs[i][l]))
				ys = append(ys, float64(ex.Labels>>l&1))
			}
			h.CalA[l], h.CalB[l] = platt(xs, ys)
		}
		if m, err = New(h, q); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func sign(h uint32) float64 {
	if h&1 == 0 {
		return 1
	}
	return -1
}

// platt fits p = sigmoid(a*x + b) to the labels ys (0 or 1) by Newton's
// method on the log loss, with Platt's smoothed targets; (1, 0), the
// identity, when there is nothing to fit.
func platt(xs, ys []float64) (float32, float32) {
	var npos, nneg float64
	for _, y := range ys {
		if y > 0 {
			npos++
		} else {
			nneg++
		}
	}
	if npos == 0 || nneg == 0 {
		return 1, 0
	}
	hi, lo := (npos+1)/(npos+2), 1/(nneg+2)
	a, b := 1.0, 0.0
	for range 100 {
		var ga, gbb, haa, hab, hbb float64
		for i, x := range xs {
			t := lo
			if ys[i] > 0 {
				t = hi
			}
			p := 1 / (1 + math.Exp(-(a*x + b)))
			d := p - t
			v := max(p*(1-p), 1e-12)
			ga += d * x
			gbb += d
			haa += v * x * x
			hab += v * x
			hbb += v
		}
		haa += 1e-9
		hbb += 1e-9
		det := haa*hbb - hab*hab
		if det == 0 {
			break
		}
		da := (hbb*ga - hab*gbb) / det
		db := (haa*gbb - hab*ga) / det
		a, b = a-da, b-db
		if math.Abs(da) < 1e-9 && math.Abs(db) < 1e-9 {
			break
		}
	}
	return float32(a), float32(b)
}
