package vice

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// NewKey makes a VCH's secret key, in the form kept under KeyKey.
func NewKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("secret key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(k), nil
}

// Encode turns c into extraConfig keys and values; secrets are sealed with
// key (from NewKey). Zero fields are written too, so a configure that
// clears a field overwrites the old value.
func Encode(c *Config, key string) (map[string]string, error) {
	aead, err := cipherFor(key)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if err := encode(out, strings.TrimSuffix(Prefix, "."), reflect.ValueOf(c).Elem(), aead); err != nil {
		return nil, err
	}
	out[KeyKey] = key
	return out, nil
}

func encode(out map[string]string, path string, v reflect.Value, aead cipher.AEAD) error {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, secret := tag(t.Field(i))
			if secret {
				s := v.Field(i).String()
				sealed := ""
				if s != "" {
					nonce := make([]byte, aead.NonceSize())
					if _, err := rand.Read(nonce); err != nil {
						return fmt.Errorf("seal %s: %w", name, err)
					}
					sealed = base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(s), []byte(name)))
				}
				out[Prefix+"secret."+name] = sealed
				continue
			}
			if err := encode(out, path+"."+name, v.Field(i), aead); err != nil {
				return err
			}
		}
	case reflect.Slice:
		out[path+".count"] = strconv.Itoa(v.Len())
		for i := 0; i < v.Len(); i++ {
			if err := encode(out, path+"."+strconv.Itoa(i), v.Index(i), aead); err != nil {
				return err
			}
		}
	case reflect.String:
		out[path] = v.String()
	case reflect.Bool:
		out[path] = strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		out[path] = strconv.FormatInt(v.Int(), 10)
	default:
		return fmt.Errorf("vice: field %s: unsupported kind %s", path, v.Kind())
	}
	return nil
}

// Decode reads a Config from extraConfig keys (other keys are ignored).
// A missing key leaves its field zero; a malformed value or a secret the
// key cannot open is an error naming the key.
func Decode(kv map[string]string) (*Config, error) {
	if _, ok := kv[Prefix+"name"]; !ok {
		return nil, ErrNotVCH
	}
	aead, err := cipherFor(kv[KeyKey])
	if err != nil {
		return nil, err
	}
	c := &Config{}
	if err := decode(kv, strings.TrimSuffix(Prefix, "."), reflect.ValueOf(c).Elem(), aead); err != nil {
		return nil, err
	}
	return c, nil
}

// ErrNotVCH: the keys hold no VCH config.
var ErrNotVCH = errors.New("no VCH configuration (guestinfo.vice.name is not set)")

// IsVCH tells whether extraConfig keys belong to a VCH endpoint VM.
func IsVCH(kv map[string]string) bool { _, ok := kv[Prefix+"name"]; return ok }

func decode(kv map[string]string, path string, v reflect.Value, aead cipher.AEAD) error {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, secret := tag(t.Field(i))
			if secret {
				k := Prefix + "secret." + name
				s := kv[k]
				if s == "" {
					continue
				}
				raw, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil || len(raw) < aead.NonceSize() {
					return fmt.Errorf("vice: %s: not a sealed value", k)
				}
				plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(name))
				if err != nil {
					return fmt.Errorf("vice: %s: cannot open it with %s: %w", k, KeyKey, err)
				}
				v.Field(i).SetString(string(plain))
				continue
			}
			if err := decode(kv, path+"."+name, v.Field(i), aead); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok := kv[path+".count"]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1024 {
			return fmt.Errorf("vice: %s.count: bad value %q", path, s)
		}
		if n == 0 {
			return nil
		}
		l := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			if err := decode(kv, path+"."+strconv.Itoa(i), l.Index(i), aead); err != nil {
				return err
			}
		}
		v.Set(l)
	case reflect.String:
		v.SetString(kv[path])
	case reflect.Bool:
		if s, ok := kv[path]; ok && s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("vice: %s: bad value %q", path, s)
			}
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int64:
		if s, ok := kv[path]; ok && s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("vice: %s: bad value %q", path, s)
			}
			v.SetInt(n)
		}
	default:
		return fmt.Errorf("vice: field %s: unsupported kind %s", path, v.Kind())
	}
	return nil
}

func tag(f reflect.StructField) (name string, secret bool) {
	t := f.Tag.Get("vice")
	name, opt, _ := strings.Cut(t, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, opt == "secret"
}

func cipherFor(key string) (cipher.AEAD, error) {
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("vice: %s does not hold a 32-byte key", KeyKey)
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("vice: key: %w", err)
	}
	return cipher.NewGCM(b)
}

// Keys returns kv's keys of the schema, sorted (for diffs and tests).
func Keys(kv map[string]string) []string {
	var out []string
	for k := range kv {
		if strings.HasPrefix(k, Prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
