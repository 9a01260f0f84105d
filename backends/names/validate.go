package names

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vchproject/vch/errdefs"
)

// ValidChars is docker's description of a valid container name, quoted in
// its error text.
const ValidChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

var validName = regexp.MustCompile(`^` + ValidChars + `+$`)

// Normalize checks a user-given container name and returns it in docker's
// stored form, with a leading "/".
func Normalize(name string) (string, error) {
	if !validName.MatchString(strings.TrimPrefix(name, "/")) {
		return "", errdefs.InvalidParameter(fmt.Sprintf("Invalid container name (%s), only %s are allowed", name, ValidChars))
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name, nil
}
