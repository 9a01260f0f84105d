package report

import "slices"

// Slowdown is how many times worse vch is than dockerd on row: the ratio for
// a lower-is-better figure, its inverse for a higher-is-better one. It
// reports ok=false when the row has no ratio (or a zero one).
func Slowdown(row *Row) (float64, bool) {
	if row.Ratio == nil || *row.Ratio == 0 {
		return 0, false
	}
	if row.Better == Higher {
		return 1 / *row.Ratio, true
	}
	return *row.Ratio, true
}

// Worst returns up to n rows with a ratio, worst slowdown first. Rows whose
// key is in skip (e.g. raw counts that are not comparable) are left out.
func (r *Report) Worst(n int, skip ...string) []*Row {
	var rows []*Row
	for _, row := range r.Rows {
		if slices.Contains(skip, row.Key) {
			continue
		}
		if _, ok := Slowdown(row); ok {
			rows = append(rows, row)
		}
	}
	slices.SortStableFunc(rows, func(a, b *Row) int {
		sa, _ := Slowdown(a)
		sb, _ := Slowdown(b)
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows
}

// WorstBySection is Worst with at most one row per section (the worst of
// each), so that one family of related figures cannot fill the list.
func (r *Report) WorstBySection(n int, skip ...string) []*Row {
	var out []*Row
	seen := map[string]bool{}
	for _, row := range r.Worst(len(r.Rows), skip...) {
		if seen[row.Section] {
			continue
		}
		seen[row.Section] = true
		out = append(out, row)
		if len(out) == n {
			break
		}
	}
	return out
}
