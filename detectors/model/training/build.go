package training

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/xunjian/xunjian/detectors/model"
)

// DefaultSeed is the seed of the shipped model.
const DefaultSeed = 20261206

// Options configure Build; the zero value builds the shipped model.
type Options struct {
	// Seed orders training; zero means DefaultSeed.
	Seed uint64
	// Model holds the trainer's options; Labels and Seed are set by Build.
	Model model.TrainOptions
}

// Data is the whole data set, split.
type Data struct {
	// Items are the hand-labelled records, then the corpora's texts.
	Items []Item
	// Digest is the SHA-256 of the hand-labelled files and the corpora
	// files read, in order: two builds from the same digest and options
	// give the same model.
	Digest string
}

// Load reads the hand-labelled data of dataDir (testdata/training) and the
// corpora of corporaDir (testdata/corpora).
func Load(dataDir, corporaDir string) (*Data, error) {
	recs, err := LoadRecords(dataDir)
	if err != nil {
		return nil, err
	}
	corp, err := LoadCorpora(corporaDir)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dataDir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	for _, c := range corpusList() {
		files = append(files, filepath.Join(corporaDir, filepath.FromSlash(c.file)))
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return &Data{Items: append(recs, corp...), Digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// Build trains the model on d's training part and calibrates it on its
// calibration part.
func Build(d *Data, opts Options) (*model.Model, error) {
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	mo := opts.Model
	mo.Labels, mo.Seed = Labels(), opts.Seed
	mo.Meta = map[string]any{
		"data_sha256": d.Digest, "seed": opts.Seed, "bits": mo.Bits, "epochs": mo.Epochs, "max_positive_weight": mo.MaxPositiveWeight,
		"split": "family or text FNV-1a mod 10: 0-1 held out, 2 calibration, rest training",
	}
	m, err := model.Train(Examples(d.Items, Train), Examples(d.Items, Calibration), mo)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return m, nil
}
