package image

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// resolveUser turns an image's User ("uid", "uid:gid", "name", "name:group",
// and mixes) into ids, looking names up in /etc/passwd and /etc/group of the
// image: the topmost layer that has the file (each read inside its layer's
// directory, os.Root, so a symbolic link in a layer cannot reach the host's).
// A uid without a group takes its passwd entry's group, or 0, as Docker does.
func resolveUser(layers []string, user string) (uint32, uint32, error) {
	u, g, hasGroup := strings.Cut(user, ":")
	var uid, gid uint32
	var passwd [][]string
	if id, err := strconv.ParseUint(u, 10, 32); err == nil {
		uid = uint32(id)
		if !hasGroup {
			passwd = readDB(layers, "etc/passwd")
			for _, f := range passwd {
				if len(f) >= 4 && f[2] == u {
					n, err := strconv.ParseUint(f[3], 10, 32)
					if err == nil {
						gid = uint32(n)
					}
					break
				}
			}
		}
	} else {
		passwd = readDB(layers, "etc/passwd")
		found := false
		for _, f := range passwd {
			if len(f) >= 4 && f[0] == u {
				id, err1 := strconv.ParseUint(f[2], 10, 32)
				gr, err2 := strconv.ParseUint(f[3], 10, 32)
				if err1 != nil || err2 != nil {
					return 0, 0, fmt.Errorf("malformed /etc/passwd entry for %s", u)
				}
				uid, gid, found = uint32(id), uint32(gr), true
				break
			}
		}
		if !found {
			return 0, 0, fmt.Errorf("no user %s in the image's /etc/passwd", u)
		}
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if id, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uid, uint32(id), nil
	}
	for _, f := range readDB(layers, "etc/group") {
		if len(f) >= 3 && f[0] == g {
			id, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				return 0, 0, fmt.Errorf("malformed /etc/group entry for %s", g)
			}
			return uid, uint32(id), nil
		}
	}
	return 0, 0, fmt.Errorf("no group %s in the image's /etc/group", g)
}

// readDB reads the colon-separated file name of the topmost layer that has
// it; a whiteout (or anything but a regular file) there means there is none.
func readDB(layers []string, name string) [][]string {
	for i := len(layers) - 1; i >= 0; i-- {
		root, err := os.OpenRoot(layers[i])
		if err != nil {
			continue
		}
		fi, err := root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			root.Close()
			continue
		}
		var out [][]string
		if err == nil && fi.Mode().IsRegular() {
			if f, err := root.Open(name); err == nil {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					out = append(out, strings.Split(sc.Text(), ":"))
				}
				f.Close()
			}
		}
		root.Close()
		return out
	}
	return nil
}
