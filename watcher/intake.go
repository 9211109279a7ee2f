package watcher

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"maira/dicom"
	"maira/internal/filehash"
	"maira/models/imageproc"
)

// intake scans the drop folder and takes in every file that became
// complete. While the output disk is low on space, nothing is taken.
func (s *Service) intake(now time.Time) {
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()
	if held {
		s.setPaused("intake paused by the operator")
		return
	}
	if reason := s.diskLow(); reason != "" {
		s.setPaused(reason)
		return
	}
	if s.diskFull(now) {
		return // the pause set when the disk filled stands
	}
	s.setPaused("")
	complete, settling := s.arr.scan(now)
	if s.watchDirs != nil {
		s.watchDirs(s.arr.dirs)
	}
	s.mu.Lock()
	s.status.Settling = settling
	s.mu.Unlock()
	for _, path := range complete {
		s.take(path, now)
	}
}

// take brings one complete file into a study, or refuses it.
func (s *Service) take(path string, now time.Time) {
	name, _ := filepath.Rel(s.cfg.In, path)
	if strings.EqualFold(filepath.Ext(name), ".json") {
		return // a sidecar: read with its image
	}
	sha, err := filehash.File(path)
	if err != nil {
		s.log.Warn("cannot read a new file; will retry", "file", name, "error", err.Error())
		s.arr.forget(path)
		return
	}
	in := Input{Name: name, Path: path, SHA256: sha}
	isDICOM, err := dicom.IsDICOMFile(path)
	if err != nil {
		s.arr.forget(path)
		return
	}
	if isDICOM {
		img, err := dicom.ReadFile(path)
		if err != nil {
			s.refuse(path, name, err.Error())
			return
		}
		d := img.Study
		in.SOP, in.View = d.SOPInstanceUID, string(d.View)
		if s.known(in) {
			return
		}
		key := shortHash("study:" + d.StudyInstanceUID)
		if d.StudyInstanceUID == "" {
			key = shortHash("instance:" + sha)
		}
		s.addToStudy(key, in, now, func() *Study {
			return &Study{Key: key, StudyUID: d.StudyInstanceUID, DICOM: true, PatientID: d.PatientID, StudyDate: d.StudyDate}
		})
		return
	}
	if _, err := imageproc.DecodeFile(path); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "unknown format") || strings.Contains(msg, "not a PNG or JPEG") {
			msg = fmt.Sprintf("%s: not a DICOM, PNG or JPEG file", path)
		}
		s.refuse(path, name, msg)
		return
	}
	if s.known(in) {
		return
	}
	stem := sanitize(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)))
	key := stem
	if old, _ := s.store.Get(key); old != nil {
		key = stem + "-" + sha[:8]
	}
	s.addToStudy(key, in, now, func() *Study { return &Study{Key: key} })
}

// known handles a file whose content or SOP Instance UID the store has
// seen: the same file still in the drop folder is left alone; a second copy
// is archived as a duplicate, never reported twice.
func (s *Service) known(in Input) bool {
	key, err := s.store.Instance(in.SHA256, in.SOP)
	if err != nil || key == "" {
		return false
	}
	st, err := s.store.Get(key)
	if err != nil || st == nil {
		return false
	}
	for _, f := range st.Files {
		if f.Path == in.Path {
			return true
		}
	}
	dst, err := s.archiveOne(st, in.Path, filepath.Join("duplicates", filepath.Base(in.Name)))
	if err != nil {
		s.log.Error("cannot archive a duplicate", "file", in.Name, "error", err.Error())
		s.arr.forget(in.Path)
		return true
	}
	note := fmt.Sprintf("%s: a duplicate of an image already received (archived as %s)", in.Name, dst)
	s.store.Update(key, func(x *Study) error { x.Notes = append(x.Notes, note); return nil })
	s.log.Info("duplicate archived", "study", key, "file", in.Name)
	s.emit(Event{Kind: "duplicate", Study: key, File: in.Name})
	return true
}

// addToStudy records a file in its study, making the study if it is new.
func (s *Service) addToStudy(key string, in Input, now time.Time, fresh func() *Study) {
	st, err := s.store.Get(key)
	if err != nil {
		s.log.Error("store", "error", err.Error())
		return
	}
	if st == nil {
		st = fresh()
		st.State, st.Arrived, st.LastArrival, st.Files = Collecting, now, now, []Input{in}
		if err := s.store.Put(st); err != nil {
			s.log.Error("store", "error", err.Error())
			s.arr.forget(in.Path)
			return
		}
		s.log.Info("study opened", "study", key, "file", in.Name, "patient", dicom.Mask(st.PatientID))
		s.emit(Event{Kind: "arrived", Study: key, File: in.Name})
		return
	}
	switch st.State {
	case Done, Failed:
		// Its study is finished: archived beside it and noted, not
		// reported again.
		dst, err := s.archiveOne(st, in.Path, filepath.Join("late", filepath.Base(in.Name)))
		if err != nil {
			s.log.Error("cannot archive a late image", "file", in.Name, "error", err.Error())
			s.arr.forget(in.Path)
			return
		}
		in.Path = dst
		note := fmt.Sprintf("%s arrived after the study was %s; archived as %s, not reported", in.Name, st.State, dst)
		s.store.Update(key, func(x *Study) error {
			x.Files = append(x.Files, in)
			x.Notes = append(x.Notes, note)
			return nil
		})
		s.log.Warn("image arrived after its study was finished", "study", key, "file", in.Name)
		s.emit(Event{Kind: "late", Study: key, File: in.Name})
		return
	}
	s.store.Update(key, func(x *Study) error {
		x.Files = append(x.Files, in)
		x.LastArrival = now
		switch x.State {
		case Queued:
			x.State = Collecting // wait the quiet window again: more may come
		case Running:
			// Too late for this draft: archived with it and noted, not
			// reported again.
			x.Notes = append(x.Notes, in.Name+" arrived while the study was being reported; archived with it, not shown to the model")
		}
		return nil
	})
	s.log.Info("image added to study", "study", key, "file", in.Name, "state", string(st.State))
	s.emit(Event{Kind: "arrived", Study: key, File: in.Name})
}

// sanitize makes a name safe as a folder name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	out := strings.TrimLeft(string(b), ".")
	if out == "" {
		out = "image"
	}
	return out
}

// Sidecar is the optional NAME.json beside a PNG/JPEG image
// (docs/sidecar.md). Lateral and Prior name image files in the same folder.
type Sidecar struct {
	Schema      string `json:"schema"` // "maira.sidecar/v1"
	Indication  string `json:"indication"`
	Technique   string `json:"technique"`
	Comparison  string `json:"comparison"`
	Lateral     string `json:"lateral"`
	Prior       string `json:"prior"`
	PriorReport string `json:"prior_report"`
}

// SidecarSchema is the version this build reads.
const SidecarSchema = "maira.sidecar/v1"

// readSidecar reads the sidecar of the image at path, if there is one.
func readSidecar(path string) (*Sidecar, string, error) {
	sp := strings.TrimSuffix(path, filepath.Ext(path)) + ".json"
	data, err := os.ReadFile(sp)
	if os.IsNotExist(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, sp, fmt.Errorf("%s: %v", sp, err)
	}
	var sc Sidecar
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, sp, fmt.Errorf("%s: %v", sp, err)
	}
	if sc.Schema != SidecarSchema {
		return nil, sp, fmt.Errorf("%s: schema %q (want %q)", sp, sc.Schema, SidecarSchema)
	}
	for _, f := range []string{sc.Lateral, sc.Prior} {
		if f != "" && (filepath.Base(f) != f || ignored(f)) {
			return nil, sp, fmt.Errorf("%s: %q must be a file name in the same folder", sp, f)
		}
	}
	if sc.PriorReport != "" && sc.Prior == "" {
		return nil, sp, fmt.Errorf("%s: prior_report needs prior (the prior frontal image)", sp)
	}
	return &sc, sp, nil
}

// attachedTo returns the sidecar that names the image at path as its
// lateral or prior, or "". The sidecar alone decides: the image it belongs
// to may not have arrived yet, and the lateral must wait for it rather than
// become a study of its own.
func attachedTo(path string) string {
	dir, base := filepath.Split(path)
	matches, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, m := range matches {
		if ignored(filepath.Base(m)) {
			continue
		}
		sc, _, err := readSidecar(strings.TrimSuffix(m, ".json") + ".png")
		if err == nil && sc != nil && (sc.Lateral == base || sc.Prior == base) {
			return m
		}
	}
	return ""
}
