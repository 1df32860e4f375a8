package rpc

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkCall measures one request/response: a small answer, and a
// proposal carrying a 512 KiB patch each way.
func BenchmarkCall(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name+"/small", func(b *testing.B) {
			svc := newMemService()
			c := tr.connect(b, svc, nil)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Repos(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tr.name+"/patch-512KiB", func(b *testing.B) {
			svc := newMemService()
			c := tr.connect(b, svc, nil)
			ctx := context.Background()
			patch := strings.Repeat("+a line of a diff, with <html> & \"quotes\"\n", 512<<10/42)
			b.SetBytes(int64(len(patch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Propose(ctx, "bench", "demo", patch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
