package report

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Markdown writes the machine, the table of figures and the notes.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "## vch vs Docker Engine, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- CPU: %s (%d cores), memory %d MiB\n", orNA(m.CPU), m.Cores, m.MemoryMiB)
	fmt.Fprintf(&b, "- accelerator of vch's container VMs: %s\n", orNA(m.Accelerator))
	fmt.Fprintf(&b, "- kernel %s; %s\n", orNA(m.Kernel), orNA(m.QEMU))
	fmt.Fprintf(&b, "- dockerd %s, containerd %s, runc %s; docker CLI %s; vch %s\n",
		orNA(m.Dockerd), orNA(m.Containerd), orNA(m.Runc), orNA(m.DockerCLI), orNA(m.VCH))
	fmt.Fprintf(&b, "- runs per timing: %d\n\n", r.Options.Runs)
	b.WriteString("| measurement | unit | vch | dockerd | vch ÷ dockerd |\n")
	b.WriteString("|---|---|--:|--:|--:|\n")
	section := ""
	for _, row := range r.Rows {
		if row.Section != section {
			section = row.Section
			fmt.Fprintf(&b, "| **%s** | | | | |\n", section)
		}
		ratio := ""
		if row.Ratio != nil {
			ratio = fmt.Sprintf("%s×", Number(*row.Ratio))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.Label, row.Unit,
			cell(row.VCH), cell(row.Dockerd), ratio)
	}
	if na := r.naReasons(); len(na) > 0 {
		b.WriteString("\nn/a:\n")
		for _, line := range na {
			fmt.Fprintf(&b, "- %s\n", line)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(v Value) string {
	if v.Set() {
		return Number(*v.Value)
	}
	return "n/a"
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// Number formats x with three significant digits (no exponent for the
// magnitudes a benchmark meets).
func Number(x float64) string {
	ax := math.Abs(x)
	switch {
	case ax == 0:
		return "0"
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	case ax >= 1:
		return fmt.Sprintf("%.2f", x)
	case ax >= 0.01:
		return fmt.Sprintf("%.3f", x)
	default:
		return fmt.Sprintf("%.2g", x)
	}
}

// naReasons groups the rows without a figure by target and reason, in table
// order, leaving out rows nobody asked for ("not measured").
func (r *Report) naReasons() []string {
	type key struct {
		t      Target
		reason string
	}
	var order []key
	rows := map[key][]string{}
	for _, row := range r.Rows {
		for _, tv := range []struct {
			t Target
			v Value
		}{{VCH, row.VCH}, {Dockerd, row.Dockerd}} {
			if tv.v.Set() || tv.v.NA == "" || tv.v.NA == "not measured" {
				continue
			}
			k := key{tv.t, tv.v.NA}
			if _, ok := rows[k]; !ok {
				order = append(order, k)
			}
			rows[k] = append(rows[k], row.Label)
		}
	}
	var out []string
	for _, k := range order {
		if len(rows[k]) == 1 {
			out = append(out, fmt.Sprintf("%s on %s: %s", rows[k][0], k.t, k.reason))
			continue
		}
		out = append(out, fmt.Sprintf("%s, %d rows (%s): %s", k.t, len(rows[k]), strings.Join(rows[k], "; "), k.reason))
	}
	return out
}
