package safetensors

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// indexName is the file that joins a sharded checkpoint, as transformers
// names it (SAFE_WEIGHTS_INDEX_NAME).
const indexName = "model.safetensors.index.json"

// singleName is the file of an unsharded checkpoint (SAFE_WEIGHTS_NAME).
const singleName = "model.safetensors"

// Set is a whole checkpoint: one file or shards joined by an index.
type Set struct {
	Dir     string    // directory holding the files
	Files   []*File   // the shards, by file name
	Tensors []*Tensor // every tensor of every file, sorted by name
}

// Open opens a checkpoint. path may be a directory (its
// model.safetensors.index.json if present, else model.safetensors, else the
// one *.safetensors file there), an index .json file, or a single
// .safetensors file. Shards may be symbolic links, as in the Hugging Face
// cache, but must be named by plain file names inside the index's directory.
func Open(path string) (*Set, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".json") {
			return openIndex(path)
		}
		return openSingle(path)
	}
	idx := filepath.Join(path, indexName)
	if ok, err := isFile(idx); err != nil {
		return nil, err
	} else if ok {
		return openIndex(idx)
	}
	single := filepath.Join(path, singleName)
	if ok, err := isFile(single); err != nil {
		return nil, err
	} else if ok {
		return openSingle(single)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".safetensors") {
			continue
		}
		if ok, err := isFile(filepath.Join(path, name)); err == nil && ok {
			found = append(found, name)
		}
	}
	if len(found) == 1 {
		return openSingle(filepath.Join(path, found[0]))
	}
	what := "none"
	if len(found) > 1 {
		what = fmt.Sprintf("%d, which one is ambiguous without an index: %s", len(found), strings.Join(found, ", "))
	}
	return nil, fmt.Errorf("%s: no checkpoint: looked for %s, %s, or a single *.safetensors file (found %s)", path, indexName, singleName, what)
}

// isFile reports whether path exists and is not a directory, following
// symbolic links.
func isFile(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !st.IsDir(), nil
}

func openSingle(path string) (*Set, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	s := &Set{Dir: filepath.Dir(path), Files: []*File{f}}
	s.Tensors = append([]*Tensor(nil), f.Tensors...)
	sort.Slice(s.Tensors, func(i, j int) bool { return s.Tensors[i].Name < s.Tensors[j].Name })
	return s, nil
}

// openIndex opens every shard the index names and checks that each tensor is
// where the index says and nowhere else. Tensors a shard holds beyond those
// listed are kept: transformers loads whole shards, so they are part of the
// checkpoint.
func openIndex(path string) (_ *Set, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	weightMap, err := parseIndex(data, path)
	if err != nil {
		return nil, err
	}
	// Open shards in name order, each once; remember one tensor per shard
	// for the message if the shard is missing.
	byShard := map[string][]string{}
	for name, shard := range weightMap {
		byShard[shard] = append(byShard[shard], name)
	}
	shards := make([]string, 0, len(byShard))
	for shard := range byShard {
		shards = append(shards, shard)
	}
	sort.Strings(shards)

	s := &Set{Dir: filepath.Dir(path)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, shard := range shards {
		f, err := OpenFile(filepath.Join(s.Dir, shard))
		if errors.Is(err, fs.ErrNotExist) {
			names := byShard[shard]
			sort.Strings(names)
			return nil, fmt.Errorf("%s: shard %s is missing (the index puts %d tensor(s) there, e.g. %s)", path, shard, len(names), printName(names[0]))
		}
		if err != nil {
			return nil, err
		}
		s.Files = append(s.Files, f)
	}

	owner := map[string]*Tensor{}
	for _, f := range s.Files {
		for _, t := range f.Tensors {
			if prev, dup := owner[t.Name]; dup {
				return nil, fmt.Errorf("%s: tensor %s: present in shards %s and %s", path, printName(t.Name), filepath.Base(prev.File), filepath.Base(t.File))
			}
			owner[t.Name] = t
			s.Tensors = append(s.Tensors, t)
		}
	}
	for name, shard := range weightMap {
		t := owner[name]
		if t == nil || filepath.Base(t.File) != shard {
			return nil, fmt.Errorf("%s: tensor %s: listed in the index for shard %s but absent from it", path, printName(name), shard)
		}
	}
	sort.Slice(s.Tensors, func(i, j int) bool { return s.Tensors[i].Name < s.Tensors[j].Name })
	return s, nil
}

// parseIndex reads an index's weight_map (tensor name -> shard file name).
// The rest of the index (metadata.total_size and whatever else a tool put
// there) is informational and skipped.
func parseIndex(data []byte, path string) (map[string]string, error) {
	weightMap := map[string]string(nil)
	dec := newDecoder(data)
	err := walkObject(dec, "index", func(key string) error {
		if key != "weight_map" {
			return skipValue(dec)
		}
		weightMap = map[string]string{}
		return walkObject(dec, "weight_map", func(name string) error {
			tok, err := dec.Token()
			if err != nil {
				return jsonError(err)
			}
			shard, ok := tok.(string)
			if !ok {
				return fmt.Errorf("tensor %s: shard is %s, not a file name", printName(name), describe(tok))
			}
			if err := checkShardName(shard); err != nil {
				return fmt.Errorf("tensor %s: %v", printName(name), err)
			}
			weightMap[name] = shard
			return nil
		})
	})
	if err == nil {
		err = expectEOF(dec)
	}
	var dup duplicateKeyError
	if errors.As(err, &dup) {
		err = fmt.Errorf("key %q appears twice", string(dup))
	}
	if err == nil && weightMap == nil {
		err = errors.New("no weight_map")
	}
	if err == nil && len(weightMap) == 0 {
		err = errors.New("weight_map is empty")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return weightMap, nil
}

// checkShardName refuses shard names that could reach outside the index's
// directory: an index is outside data, and "../../etc/passwd" is a name.
func checkShardName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") || printName(name) != name {
		return fmt.Errorf("shard name %q is not a plain file name in the index's directory", name)
	}
	return nil
}

// Tensor returns the tensor called name, or nil if the set has none.
func (s *Set) Tensor(name string) *Tensor {
	i := sort.Search(len(s.Tensors), func(i int) bool { return s.Tensors[i].Name >= name })
	if i < len(s.Tensors) && s.Tensors[i].Name == name {
		return s.Tensors[i]
	}
	return nil
}

// Release tells the kernel that t's pages may be dropped, after t has been
// streamed, so that converting a checkpoint larger than memory does not keep
// it resident. t.Data stays readable (it is read again from disk if touched).
func (s *Set) Release(t *Tensor) {
	if t == nil || t.file == nil || t.file.region == nil {
		return
	}
	t.file.region.Release(t.off, int64(len(t.Data)))
}

// Close unmaps every file of the set.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.Files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
