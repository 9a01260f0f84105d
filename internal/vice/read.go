package vice

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Read gathers the raw keys of a Config (what Decode takes) from a source
// that answers single keys but cannot list them, such as the VMware
// backdoor: it walks the schema, asking get for every leaf key, the
// secrets and KeyKey, and for a list first its ".count" and then that
// many entries. get reports whether the key is set; an error from it
// ends the walk. Keys that are not set are left out of the map.
func Read(get func(key string) (string, bool, error)) (map[string]string, error) {
	kv := map[string]string{}
	look := func(k string) (string, bool, error) {
		v, ok, err := get(k)
		if err != nil {
			return "", false, fmt.Errorf("vice: read %s: %w", k, err)
		}
		if ok {
			kv[k] = v
		}
		return v, ok, nil
	}
	if _, _, err := look(KeyKey); err != nil {
		return nil, err
	}
	if err := read(look, strings.TrimSuffix(Prefix, "."), reflect.TypeOf(Config{})); err != nil {
		return nil, err
	}
	return kv, nil
}

func read(look func(string) (string, bool, error), path string, t reflect.Type) error {
	switch t.Kind() {
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			name, secret := tag(t.Field(i))
			if secret {
				if _, _, err := look(Prefix + "secret." + name); err != nil {
					return err
				}
				continue
			}
			if err := read(look, path+"."+name, t.Field(i).Type); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok, err := look(path + ".count")
		if err != nil || !ok || s == "" {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1024 {
			return fmt.Errorf("vice: %s.count: bad value %q", path, s)
		}
		for i := 0; i < n; i++ {
			if err := read(look, path+"."+strconv.Itoa(i), t.Elem()); err != nil {
				return err
			}
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		_, _, err := look(path)
		return err
	default:
		return fmt.Errorf("vice: field %s: unsupported kind %s", path, t.Kind())
	}
	return nil
}
