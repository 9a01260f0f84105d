package volume

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vchproject/vch/errdefs"
)

// ParseCapacity reads VIC's Capacity option: a whole number with an
// optional unit KB, MB, GB or TB (K, M, G, T also accepted, case does not
// matter, 1024-based); without a unit it means MB.
func ParseCapacity(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	var shift uint
	switch unit {
	case "K", "KB":
		shift = 10
	case "", "M", "MB":
		shift = 20
	case "G", "GB":
		shift = 30
	case "T", "TB":
		shift = 40
	default:
		return 0, badCapacity(s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, badCapacity(s)
	}
	return n << shift, nil
}

func badCapacity(s string) error {
	return errdefs.InvalidParameter(fmt.Sprintf("bad Capacity %q: give a positive whole number with an optional unit KB, MB, GB or TB (MB if none)", s))
}

// FormatCapacity renders bytes in the largest unit that divides them.
func FormatCapacity(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TB"}, {30, "GB"}, {20, "MB"}, {10, "KB"}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
