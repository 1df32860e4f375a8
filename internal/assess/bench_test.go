package assess

import "testing"

// BenchmarkScores: both scores of a 20-line change and of a 5,000-line
// one (the sandbox's default MaxLines) over 50 files. The core scores a
// revision inside its bbolt write transaction, so this is how long a big
// diff holds the store. Compare the two in the same run:
//
//	go test -run '^$' -bench Scores ./internal/assess/
func BenchmarkScores(b *testing.B) {
	for _, tc := range []struct {
		name string
		diff string
	}{{"20-lines", grow("main.go", 20)}, {"5000-lines-50-files", bigDiff(50, 100)}} {
		b.Run(tc.name, func(b *testing.B) {
			in := base()
			in.Diff = tc.diff
			b.SetBytes(int64(len(tc.diff)))
			for b.Loop() {
				Risk(in)
				Confidence(in)
			}
		})
	}
}

func bigDiff(files, lines int) string {
	var s string
	for i := range files {
		s += grow("dir/file"+string(rune('a'+i%26))+string(rune('a'+i/26))+".go", lines)
	}
	return s
}
