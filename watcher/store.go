package watcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"maira/models/report"
)

// State is where a study is in its life.
type State string

const (
	Collecting State = "collecting" // images arriving; waits for the quiet window
	Queued     State = "queued"
	Running    State = "running"
	Done       State = "done"
	Failed     State = "failed"
)

// Study is one study's record in the store.
type Study struct {
	Key      string `json:"key"`
	StudyUID string `json:"study_uid,omitempty"`
	// DICOM studies group by StudyUID; an image study is one PNG/JPEG.
	DICOM bool    `json:"dicom"`
	State State   `json:"state"`
	Files []Input `json:"files"`
	// PatientID is kept for priors (the store is the service's own; logs
	// show it only masked).
	PatientID   string          `json:"patient_id,omitempty"`
	StudyDate   string          `json:"study_date,omitempty"`
	Arrived     time.Time       `json:"arrived"`
	LastArrival time.Time       `json:"last_arrival"`
	Started     time.Time       `json:"started,omitzero"`
	Finished    time.Time       `json:"finished,omitzero"`
	Attempts    int             `json:"attempts"`
	ReportDir   string          `json:"report_dir,omitempty"`
	ArchiveDir  string          `json:"archive_dir,omitempty"`
	Archived    bool            `json:"archived"`
	Error       string          `json:"error,omitempty"`
	Model       string          `json:"model,omitempty"`
	Timings     *report.Timings `json:"timings,omitempty"`
	Notes       []string        `json:"notes,omitempty"`
}

// Input is one file of a study.
type Input struct {
	Name   string `json:"name"` // the file's name in the drop folder
	Path   string `json:"path"` // where it is now
	SHA256 string `json:"sha256"`
	SOP    string `json:"sop_instance_uid,omitempty"`
	View   string `json:"view,omitempty"` // frontal, lateral, "" (unknown)
	// Sidecar is the image study's NAME.json, if any.
	Sidecar bool `json:"sidecar,omitempty"`
}

// Store is the service's crash-safe state: a bbolt file whose every
// update is one fsynced transaction.
type Store struct {
	db *bolt.DB
}

var (
	bStudies   = []byte("studies")   // key -> Study JSON
	bInstances = []byte("instances") // sha256 or "sop:" + SOP Instance UID -> study key
	bMeta      = []byte("meta")      // "schema" -> the store's schema version
)

// StoreSchema is the version of the store's layout that this build reads
// and writes. A change that an older build would misread gets a new
// version, with a forward migration in OpenStore; firmware bundles record
// it, so that a rollback to a build that cannot read the store is refused.
const StoreSchema = 1

// OpenStore opens (or creates) the store in dir. A second service on the
// same folder waits for the lock a while, then fails.
func OpenStore(dir string) (*Store, error) {
	path := filepath.Join(dir, "store.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s: in use by another maira watch", path)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bStudies, bInstances, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		v, err := schemaOf(meta)
		if err != nil {
			return err
		}
		switch {
		case v > StoreSchema:
			return fmt.Errorf("the store is at schema %d; this maira reads schema %d at most (roll forward, not back)", v, StoreSchema)
		case v < StoreSchema:
			// Version 0 is a store made before versioning: the same
			// layout as 1. Later migrations go here, one step each.
			return meta.Put([]byte("schema"), []byte(strconv.Itoa(StoreSchema)))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Get returns a study, or nil.
func (s *Store) Get(key string) (*Study, error) {
	var st *Study
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = get(tx, key)
		return err
	})
	return st, err
}

func get(tx *bolt.Tx, key string) (*Study, error) {
	v := tx.Bucket(bStudies).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	st := &Study{}
	if err := json.Unmarshal(v, st); err != nil {
		return nil, fmt.Errorf("store: study %s: %v", key, err)
	}
	return st, nil
}

func put(tx *bolt.Tx, st *Study) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bStudies).Put([]byte(st.Key), v); err != nil {
		return err
	}
	ib := tx.Bucket(bInstances)
	for _, f := range st.Files {
		if f.SHA256 == "" {
			continue
		}
		if err := ib.Put([]byte(f.SHA256), []byte(st.Key)); err != nil {
			return err
		}
		if f.SOP != "" {
			if err := ib.Put([]byte("sop:"+f.SOP), []byte(st.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Put writes a study (and indexes its files) in one transaction.
func (s *Store) Put(st *Study) error {
	return s.db.Update(func(tx *bolt.Tx) error { return put(tx, st) })
}

// Update reads a study, lets fn change it, and writes it back, atomically.
func (s *Store) Update(key string, fn func(*Study) error) (*Study, error) {
	var out *Study
	err := s.db.Update(func(tx *bolt.Tx) error {
		st, err := get(tx, key)
		if err != nil {
			return err
		}
		if st == nil {
			return fmt.Errorf("store: no study %s", key)
		}
		if err := fn(st); err != nil {
			return err
		}
		out = st
		return put(tx, st)
	})
	return out, err
}

// Instance returns the key of the study holding a file with this content
// hash or SOP Instance UID, or "".
func (s *Store) Instance(sha, sop string) (string, error) {
	var key string
	err := s.db.View(func(tx *bolt.Tx) error {
		ib := tx.Bucket(bInstances)
		if v := ib.Get([]byte(sha)); v != nil {
			key = string(v)
			return nil
		}
		if sop != "" {
			if v := ib.Get([]byte("sop:" + sop)); v != nil {
				key = string(v)
			}
		}
		return nil
	})
	return key, err
}

// All returns every study, oldest arrival first.
func (s *Store) All() ([]*Study, error) {
	var out []*Study
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bStudies).ForEach(func(k, v []byte) error {
			st := &Study{}
			if err := json.Unmarshal(v, st); err != nil {
				return fmt.Errorf("store: study %s: %v", k, err)
			}
			out = append(out, st)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Arrived.Before(out[j].Arrived) })
	return out, err
}

func schemaOf(meta *bolt.Bucket) (int, error) {
	b := meta.Get([]byte("schema"))
	if b == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("schema %q is not a number", b)
	}
	return v, nil
}

// ReadStoreSchema returns the schema version of the store in a data folder
// (0 where there is no store yet). The service must not be running: it
// holds the store's lock.
func ReadStoreSchema(dir string) (int, error) {
	path := filepath.Join(dir, "store.db")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return 0, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return 0, fmt.Errorf("%s: in use by a running maira watch (stop it first)", path)
		}
		return 0, fmt.Errorf("%s: %v", path, err)
	}
	defer db.Close()
	v := 0
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			return nil
		}
		v, err = schemaOf(meta)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %v", path, err)
	}
	return v, nil
}
