package corpora

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// maxLine is the longest JSON line a corpus holds, with room to spare.
const maxLine = 1 << 20

// EachLine decodes every line of the JSON-lines corpus file rel (a path
// inside the corpora folder, as for File) into a T and calls fn with it,
// in order. It fails t when the file is missing, a line is not a T, or the
// file cannot be read to its end: the loop every corpus test needs.
func EachLine[T any](t testing.TB, rel string, fn func(T)) {
	t.Helper()
	f, err := os.Open(File(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, maxLine), maxLine)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		fn(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}
