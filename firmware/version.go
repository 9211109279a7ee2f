package firmware

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a parsed firmware version: MAJOR.MINOR.PATCH (one to four
// numeric parts, missing ones read as 0), an optional "-PRERELEASE" and an
// ignored "+BUILD", as in semver. Parts compare as numbers, so 1.10.0 is
// newer than 1.9.0, which a string comparison gets wrong.
type version struct {
	nums [4]uint64
	pre  []string
}

func parseVersion(s string) (version, error) {
	var v version
	bad := func(why string) (version, error) {
		return version{}, fmt.Errorf("version %q: %s (want MAJOR.MINOR.PATCH, e.g. 1.2.0)", s, why)
	}
	if len(s) > 64 {
		return bad("too long")
	}
	core := strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(core, '+'); i >= 0 {
		core = core[:i]
	}
	if i := strings.IndexByte(core, '-'); i >= 0 {
		pre := core[i+1:]
		core = core[:i]
		if pre == "" {
			return bad("empty pre-release")
		}
		v.pre = strings.Split(pre, ".")
		for _, id := range v.pre {
			if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
				return bad("pre-release parts are letters, digits and hyphens")
			}
		}
	}
	parts := strings.Split(core, ".")
	if len(parts) > len(v.nums) {
		return bad("more than four numbers")
	}
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return bad("not a number: " + strconv.Quote(p))
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad("number out of range")
		}
		v.nums[i] = n
	}
	return v, nil
}

func cmp3(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (v version) compare(w version) int {
	for i := range v.nums {
		if c := cmp3(v.nums[i], w.nums[i]); c != 0 {
			return c
		}
	}
	// A release is newer than its pre-releases (1.2.0-rc1 < 1.2.0).
	switch {
	case len(v.pre) == 0 && len(w.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(w.pre) == 0:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(w.pre); i++ {
		a, b := v.pre[i], w.pre[i]
		na, ea := strconv.ParseUint(a, 10, 64)
		nb, eb := strconv.ParseUint(b, 10, 64)
		switch {
		case ea == nil && eb == nil:
			if c := cmp3(na, nb); c != 0 {
				return c
			}
		case ea == nil: // numeric identifiers sort before alphanumeric ones
			return -1
		case eb == nil:
			return 1
		default:
			if c := strings.Compare(a, b); c != 0 {
				return c
			}
		}
	}
	return cmp3(uint64(len(v.pre)), uint64(len(w.pre)))
}

// CompareVersions compares two firmware versions numerically: -1 if a is
// older than b, 0 if the same, +1 if newer.
func CompareVersions(a, b string) (int, error) {
	va, err := parseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.compare(vb), nil
}
