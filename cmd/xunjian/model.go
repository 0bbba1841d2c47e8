package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/model/training"
)

const modelUsage = `xunjian model <command>

  train [--data DIR] [--corpora DIR] [--out FILE] [--seed N] [--bits N] [--report FILE]
        build the tone and escalation model from the data in the repository
  eval [--data DIR] [--corpora DIR] [--model FILE] [--part held-out|calibration|train]
        report a model's results on a part of the data (default: the held-out part)`

func runModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, modelUsage)
	}
	switch args[0] {
	case "train":
		return runModelTrain(ctx, args[1:], stdout, stderr)
	case "eval":
		return runModelEval(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown model command %q\n%s", errUsage, args[0], modelUsage)
}

// dataFlags are the data set's folders, relative to the repository root
// (where `xunjian model` is meant to run).
func dataFlags(fs *flag.FlagSet) (data, corpora *string) {
	data = fs.String("data", "testdata/training", "folder of the hand-labelled training data (JSONL)")
	corpora = fs.String("corpora", "testdata/corpora", "folder of the vendored corpora")
	return data, corpora
}

// runModelTrain is `xunjian model train`.
func runModelTrain(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data, corp := dataFlags(fs)
	out := fs.String("out", filepath.FromSlash("detectors/model/default.xjm"), "where to write the model")
	seed := fs.Uint64("seed", training.DefaultSeed, "the training seed (the same data and seed give the same model, byte for byte)")
	report := fs.String("report", "", "also write the held-out report (Markdown) to this file")
	bits := fs.Int("bits", 0, "log2 of the model's hash buckets (0: the trainer's default, 18; fewer: a smaller table, more collisions)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: model train takes no arguments", errUsage)
	}
	d, err := training.Load(*data, *corp)
	if err != nil {
		return err
	}
	m, err := training.Build(d, training.Options{Seed: *seed, Model: model.TrainOptions{Bits: *bits}})
	if err != nil {
		return err
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	fmt.Fprintf(stdout, "model %s: %d bytes, written to %s (data sha256 %s, seed %d)\n", m.Version(), len(b), *out, d.Digest, *seed)
	rep := training.Evaluate(m, d.Items, training.HeldOut, training.DefaultThresholds()).Markdown()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, rep)
	if *report != "" {
		if err := os.WriteFile(*report, []byte(rep), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// runModelEval is `xunjian model eval`.
func runModelEval(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data, corp := dataFlags(fs)
	file := fs.String("model", "", "the model file (default: the one built into this binary)")
	part := fs.String("part", "held-out", "the part of the data: held-out, calibration or train")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	p, ok := map[string]training.Part{"held-out": training.HeldOut, "calibration": training.Calibration, "train": training.Train}[*part]
	if !ok || fs.NArg() > 0 {
		return fmt.Errorf("%w: --part is held-out, calibration or train, and model eval takes no arguments", errUsage)
	}
	m, err := model.Default()
	if *file != "" {
		var b []byte
		if b, err = os.ReadFile(*file); err == nil {
			m, err = model.Parse(b)
		}
	}
	if err != nil {
		return err
	}
	d, err := training.Load(*data, *corp)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, training.Evaluate(m, d.Items, p, training.DefaultThresholds()).Markdown())
	return nil
}
