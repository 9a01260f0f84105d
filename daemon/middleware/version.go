// Package middleware holds the HTTP middleware of the API server.
package middleware

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"github.com/vchproject/vch/errdefs"
)

// Version negotiates the API version of each request.
type Version struct {
	Min, Max      string
	ServerVersion string
}

// NewVersion validates the supported range.
func NewVersion(min, max, serverVersion string) (*Version, error) {
	if Compare(min, max) > 0 {
		return nil, fmt.Errorf("api versions: minimum %s is above maximum %s", min, max)
	}
	return &Version{Min: min, Max: max, ServerVersion: serverVersion}, nil
}

type versionError struct{ msg string }

func (e versionError) Error() string        { return e.msg }
func (e versionError) Is(target error) bool { return target == errdefs.ErrInvalidParameter }

// Negotiate returns the version a request asks for (the maximum if its
// path has none) or an invalid-parameter error with docker's text.
func (v *Version) Negotiate(requested string) (string, error) {
	if requested == "" {
		return v.Max, nil
	}
	if Compare(requested, v.Max) > 0 {
		return "", versionError{fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", requested, v.Max)}
	}
	if Compare(requested, v.Min) < 0 {
		return "", versionError{fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", requested, v.Min)}
	}
	return requested, nil
}

// SetHeaders writes the headers every response carries.
func (v *Version) SetHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Api-Version", v.Max)
	h.Set("Ostype", runtime.GOOS)
	h.Set("Server", "Docker/"+v.ServerVersion+" ("+runtime.GOOS+")")
}

// Compare compares dotted API versions numerically: -1, 0 or 1.
func Compare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
