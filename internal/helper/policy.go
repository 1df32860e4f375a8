package helper

import (
	"cmp"
	"fmt"
	"slices"
)

// DefaultAllowedSizes is the DigitalOcean allow-list: 2-4 GB, the smallest
// that fits is chosen.
var DefaultAllowedSizes = []string{"s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb"}

// Need is what a job's checks need from a helper (a repository's config).
type Need struct {
	MemoryMB int
	VCPUs    int
	// ModelServer: the helper serves model inference (the helper tier), so
	// a new machine's cloud-init installs Options.ModelServer.
	ModelServer bool
}

// ChooseSize picks the cheapest allowed size (then the smallest memory)
// that meets need. When only sizes outside allowed meet it, the answer is
// an *ApprovalError naming the cheapest of those; when none does, ErrNoSize.
// An empty allowed list allows every size.
func ChooseSize(catalog []Size, allowed []string, need Need) (Size, error) {
	fits := func(s Size) bool { return s.MemoryMB >= need.MemoryMB && s.VCPUs >= need.VCPUs }
	var in, out []Size
	for _, s := range catalog {
		if !fits(s) {
			continue
		}
		if len(allowed) == 0 || slices.Contains(allowed, s.Slug) {
			in = append(in, s)
		} else {
			out = append(out, s)
		}
	}
	order := func(a, b Size) int {
		if a.PriceHourly != b.PriceHourly {
			return cmp.Compare(a.PriceHourly, b.PriceHourly)
		}
		if a.MemoryMB != b.MemoryMB {
			return a.MemoryMB - b.MemoryMB
		}
		return a.VCPUs - b.VCPUs
	}
	if len(in) > 0 {
		return slices.MinFunc(in, order), nil
	}
	if len(out) > 0 {
		s := slices.MinFunc(out, order)
		return s, &ApprovalError{
			Reason: fmt.Sprintf("%d MB and %d vCPUs need size %s (%s/h), which is not in the allow-list %v",
				need.MemoryMB, need.VCPUs, s.Slug, s.PriceHourly, allowed),
			Size: s.Slug, PriceHourly: s.PriceHourly,
		}
	}
	return Size{}, fmt.Errorf("choose size: %w: %d MB and %d vCPUs; lower the repository's helper need", ErrNoSize, need.MemoryMB, need.VCPUs)
}
