package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// maxFileBytes bounds any single file of a bundle.
const maxFileBytes = 64 << 20

// source is a bundle read from disk, a tarball or an fs.FS: its manifest,
// data and parsed modules (tests included), before compilation.
type source struct {
	revision  string                 // manifest revision, or the content hash
	digest    string                 // hex sha256 over the name and content of every file partOfBundle keeps
	data      map[string]any         // the data document
	modules   map[string]*ast.Module // by bundle-relative file name
	dataFiles []string               // bundle-relative names of the data files, sorted
	// attachments are the bundle's files for the pipeline rather than for
	// OPA (AttachmentExt: learned models), by bundle-relative name.
	attachments map[string][]byte
}

// AttachmentExt is the extension of a bundle file that OPA does not read
// and the pipeline does: a learned model (package detectors/model) that a
// compliance team ships with a policy version. [Policy.Attachment] returns
// it; it counts in the bundle's digest like every file.
const AttachmentExt = ".xjm"

// rawFile is a .rego file held back from the OPA bundle reader so that all
// files are parsed and every error is reported, not only the first.
type rawFile struct {
	name string
	src  []byte
}

// capturingLoader wraps a bundle.DirectoryLoader: it hashes every file and
// keeps .rego files for itself, passing data and manifest files on.
type capturingLoader struct {
	bundle.DirectoryLoader
	rego        []rawFile
	attachments []rawFile
	hashes      []string // "name\x00sha256" per file
}

func (l *capturingLoader) NextFile() (*bundle.Descriptor, error) {
	for {
		d, err := l.DirectoryLoader.NextFile()
		if err != nil {
			return nil, err // io.EOF ends the bundle
		}
		var buf bytes.Buffer
		_, err = d.Read(&buf, maxFileBytes+1)
		_ = d.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", d.Path(), err)
		}
		if buf.Len() > maxFileBytes {
			return nil, fmt.Errorf("read %s: larger than %d bytes", d.Path(), maxFileBytes)
		}
		name := strings.TrimPrefix(filepath.ToSlash(d.Path()), "/")
		if !partOfBundle(name) {
			// An editor's swap file or a deploy's temporary copy is not
			// read: it must not make a new version of the same content.
			continue
		}
		sum := sha256.Sum256(buf.Bytes())
		l.hashes = append(l.hashes, name+"\x00"+hex.EncodeToString(sum[:]))
		if strings.HasSuffix(name, bundle.RegoExt) {
			l.rego = append(l.rego, rawFile{name: name, src: buf.Bytes()})
			continue
		}
		if strings.HasSuffix(name, AttachmentExt) {
			l.attachments = append(l.attachments, rawFile{name: name, src: buf.Bytes()})
			continue
		}
		return bundle.NewDescriptor(d.URL(), d.Path(), &buf), nil
	}
}

// partOfBundle reports whether the bundle file name is one OPA's bundle
// reader or the pipeline reads (Rego, data, manifest, signatures, Wasm,
// patches, attachments); the digest covers those only.
func partOfBundle(name string) bool {
	base := path.Base(name)
	switch base {
	case "data.json", "data.yaml", "data.yml", ".manifest", ".signatures.json", "patch.json":
		return true
	}
	return strings.HasSuffix(base, bundle.RegoExt) || strings.HasSuffix(base, ".wasm") || strings.HasSuffix(base, AttachmentExt)
}

// readPath reads a bundle from a directory or a .tar.gz file.
func readPath(p string) (*source, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return readLoader(bundle.NewDirectoryLoader(p))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLoader(bundle.NewTarballLoaderWithBaseURL(f, p))
}

// readFS reads a bundle rooted at dir inside fsys.
func readFS(fsys fs.FS, dir string) (*source, error) {
	if _, err := fs.Stat(fsys, dir); err != nil {
		return nil, err
	}
	return readLoader(bundle.NewFSLoaderWithRoot(fsys, dir))
}

func readLoader(dl bundle.DirectoryLoader) (*source, error) {
	cl := &capturingLoader{DirectoryLoader: dl}
	b, err := bundle.NewCustomReader(cl).WithSkipBundleVerification(true).Read()
	if err != nil {
		return nil, err
	}
	src := &source{
		revision: b.Manifest.Revision,
		data:     b.Data,
		modules:  make(map[string]*ast.Module, len(cl.rego)),
	}
	if src.data == nil {
		src.data = map[string]any{}
	}
	for _, f := range cl.attachments {
		if src.attachments == nil {
			src.attachments = map[string][]byte{}
		}
		src.attachments[f.name] = f.src
	}
	sort.Strings(cl.hashes)
	h := sha256.New()
	for _, s := range cl.hashes {
		io.WriteString(h, s)
		h.Write([]byte{'\n'})
		name, _, _ := strings.Cut(s, "\x00")
		if base := path.Base(name); base == "data.json" || base == "data.yaml" || base == "data.yml" {
			src.dataFiles = append(src.dataFiles, name)
		}
	}
	src.digest = hex.EncodeToString(h.Sum(nil))
	if src.revision == "" {
		src.revision = "sha256:" + src.digest[:12]
	}

	// Parse every module and collect every error; Rego v1 unless the
	// manifest says otherwise.
	popts := ast.ParserOptions{RegoVersion: b.RegoVersion(ast.RegoV1), ProcessAnnotation: true}
	var errs ast.Errors
	for _, f := range cl.rego {
		m, err := ast.ParseModuleWithOpts(f.name, string(f.src), popts)
		if err != nil {
			var aerrs ast.Errors
			if errors.As(err, &aerrs) {
				errs = append(errs, aerrs...)
			} else {
				errs = append(errs, ast.NewError(ast.ParseErr, &ast.Location{File: f.name}, "%v", err))
			}
			continue
		}
		if m == nil { // empty file
			continue
		}
		if err := checkRoots(b.Manifest.Roots, m); err != nil {
			errs = append(errs, err)
			continue
		}
		src.modules[f.name] = m
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return src, nil
}

// checkRoots reports a module whose package lies outside the manifest roots
// (the bundle reader checks this only for the files it parses itself).
func checkRoots(roots *[]string, m *ast.Module) *ast.Error {
	if roots == nil {
		return nil
	}
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	pkg = strings.ReplaceAll(pkg, ".", "/")
	for _, r := range *roots {
		if r == "" || pkg == r || strings.HasPrefix(pkg, r+"/") {
			return nil
		}
	}
	return ast.NewError(ast.CompileErr, m.Package.Location,
		"package %s is outside the manifest roots %v", m.Package.Path, *roots)
}

// isTest reports whether a module file holds tests (not evaluated by Decide).
func isTest(name string) bool { return strings.HasSuffix(path.Base(name), "_test.rego") }
