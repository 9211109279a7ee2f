package watcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"maira/dicom"
	"maira/dicom/sr"
	"maira/internal/atomicfile"
	"maira/internal/filehash"
	"maira/models/draft"
	"maira/models/report"
	"maira/runtime"
)

// promote queues the collecting studies whose quiet window has passed.
// An image that another image's sidecar names (its lateral or prior) is not
// a study of its own: it waits for that study, which takes it in.
func (s *Service) promote(now time.Time) {
	all, err := s.store.All()
	if err != nil {
		s.log.Error("store", "error", err.Error())
		return
	}
	quiet := s.cfg.StudyQuiet.Duration
	for _, st := range all {
		if st.State != Collecting || now.Sub(st.LastArrival) < quiet {
			continue
		}
		if !st.DICOM && len(st.Files) == 1 && attachedTo(st.Files[0].Path) != "" {
			continue
		}
		s.store.Update(st.Key, func(x *Study) error {
			if x.State == Collecting {
				x.State = Queued
			}
			return nil
		})
		s.log.Info("study queued", "study", st.Key, "images", len(st.Files))
		s.emit(Event{Kind: "queued", Study: st.Key})
	}
}

// nextQueued returns the oldest queued study.
func (s *Service) nextQueued() *Study {
	all, err := s.store.All()
	if err != nil {
		return nil
	}
	for _, st := range all {
		if st.State == Queued {
			return st
		}
	}
	return nil
}

// process drafts one study's report, writes its outputs, and archives its
// inputs. Each step is recorded before the next starts.
func (s *Service) process(st *Study) {
	st, err := s.store.Update(st.Key, func(x *Study) error {
		x.State, x.Started, x.Attempts, x.Error = Running, time.Now(), x.Attempts+1, ""
		return nil
	})
	if err != nil {
		s.log.Error("store", "error", err.Error())
		return
	}
	s.setRunning(st.Key, "decode image", 0, 0)
	defer s.setRunning("", "", 0, 0)
	s.log.Info("study started", "study", st.Key, "attempt", st.Attempts)
	s.emit(Event{Kind: "started", Study: st.Key})

	req, images, attached, err := s.request(st)
	if err != nil {
		s.failStudy(st, err)
		return
	}
	s.describeRunning(req)
	tokens := 0
	var text func(int32) string
	if s.tokenText != nil {
		text = s.tokenText()
	}
	doc, err := s.eng.Report(req, func(ev runtime.Event) {
		switch ev.Kind {
		case runtime.StageStarted:
			s.setRunning(st.Key, ev.Stage, tokens, ev.Total)
			s.emit(Event{Kind: "stage", Study: st.Key, Message: ev.Stage, Total: ev.Total})
		case runtime.TokenProduced:
			tokens++
			piece := ""
			if text != nil {
				piece = text(ev.Token)
			}
			s.setRunning(st.Key, "generate", tokens, ev.Total)
			s.appendRunningText(piece)
			s.emit(Event{Kind: "token", Study: st.Key, Token: ev.Token, Text: piece, Tokens: tokens, Total: ev.Total})
		}
	})
	if err != nil {
		s.failStudy(st, err)
		return
	}
	doc.Warnings = append(doc.Warnings, st.Notes...)
	files, err := s.outputs(st, doc, images)
	if err != nil {
		s.failStudy(st, err)
		return
	}
	dir := s.reportDir(st)
	if err := s.writeReport(dir, files); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			// A full disk loses no study: it waits, queued, and intake
			// pauses until space returns.
			s.store.Update(st.Key, func(x *Study) error { x.State, x.Attempts = Queued, x.Attempts-1; return nil })
			s.log.Error("disk full: the study stays queued", "study", st.Key)
			s.mu.Lock()
			s.diskFullUntil = time.Now().Add(diskFullWait)
			s.mu.Unlock()
			s.setPaused("disk full while writing a report; intake and reporting paused")
			return
		}
		s.failStudy(st, fmt.Errorf("writing the report: %v", err))
		return
	}
	t := doc.Timings
	st, err = s.store.Update(st.Key, func(x *Study) error {
		x.State, x.Finished, x.ReportDir, x.Timings = Done, time.Now(), dir, &t
		x.Model = doc.Model.File
		x.Files = append(x.Files, attached...)
		return nil
	})
	if err != nil {
		s.log.Error("store", "error", err.Error())
		return
	}
	s.log.Info("report written", "study", st.Key, "dir", dir, "tokens", t.GeneratedTokens, "seconds", fmt.Sprintf("%.1f", t.TotalMS/1000))
	s.emit(Event{Kind: "done", Study: st.Key, Message: dir})
	s.archive(st)
}

// describeRunning records what the running study shows the model.
func (s *Service) describeRunning(req draft.Request) {
	var images []string
	add := func(role string, im *draft.Image) {
		if im != nil {
			images = append(images, role+": "+filepath.Base(im.Path))
		}
	}
	add("frontal", &req.Frontal)
	add("lateral", req.Lateral)
	add("prior", req.Prior)
	ind := req.Sections.Indication
	if ind == "" && req.Frontal.DICOM != nil {
		ind = req.Frontal.DICOM.Study.Indication
	}
	s.mu.Lock()
	if r := s.status.Running; r != nil {
		r.Images, r.Indication = images, ind
	}
	s.mu.Unlock()
}

func (s *Service) appendRunningText(piece string) {
	s.mu.Lock()
	if r := s.status.Running; r != nil {
		r.Text += piece
	}
	s.mu.Unlock()
}

// request builds the engine's request: for a DICOM study the first frontal
// image (by View Position; without one, the first image whose view is
// unknown) and the first lateral; for an image study the image and its
// sidecar. It returns the DICOM images read and the files a sidecar named.
func (s *Service) request(st *Study) (draft.Request, []*dicom.Image, []Input, error) {
	req := draft.Request{StudyID: st.Key, Grounded: s.cfg.Generation.Grounded, MaxTokens: s.cfg.Generation.MaxTokens}
	if !st.DICOM {
		return s.imageRequest(st, req)
	}
	var frontal, lateral, unknown []int
	for i, f := range st.Files {
		switch dicom.View(f.View) {
		case dicom.Frontal:
			frontal = append(frontal, i)
		case dicom.Lateral:
			lateral = append(lateral, i)
		default:
			unknown = append(unknown, i)
		}
	}
	frontal = append(frontal, unknown...)
	if len(frontal) == 0 {
		return req, nil, nil, fmt.Errorf("no frontal image: the study has %d lateral image(s) only", len(lateral))
	}
	var images []*dicom.Image
	read := func(i int) (*draft.Image, error) {
		img, err := dicom.ReadFile(st.Files[i].Path)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
		return &draft.Image{Path: st.Files[i].Path, DICOM: img}, nil
	}
	f, err := read(frontal[0])
	if err != nil {
		return req, nil, nil, err
	}
	req.Frontal = *f
	if len(lateral) > 0 {
		if req.Lateral, err = read(lateral[0]); err != nil {
			return req, nil, nil, err
		}
	}
	if unused := len(st.Files) - len(images); unused > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d further image(s) of the study were not shown to the model (it takes one frontal and one lateral)", unused))
	}
	if s.cfg.Priors.Enabled {
		if prior, path, findings := s.findPrior(st); prior != nil {
			img, err := dicom.ReadFile(path)
			if err == nil {
				req.Prior = &draft.Image{Path: path, DICOM: img}
				req.Sections.PriorReport = findings
				images = append(images, img)
				st.Notes = append(st.Notes, fmt.Sprintf("prior: the frontal image and draft report of study %s (study date %s) were given to the model as the prior", prior.Key, orUnknown(prior.StudyDate)))
			} else {
				s.log.Warn("prior study unreadable; reported without it", "study", st.Key, "prior", prior.Key, "error", err.Error())
			}
		}
	}
	return req, images, nil, nil
}

// findPrior returns the patient's latest earlier DICOM study that was
// reported and whose frontal image is still in the archive, with that
// image's path and the prior draft's findings.
func (s *Service) findPrior(st *Study) (*Study, string, string) {
	if st.PatientID == "" {
		return nil, "", ""
	}
	all, err := s.store.All()
	if err != nil {
		return nil, "", ""
	}
	archive := filepath.Join(s.cfg.Out, "archive") + string(filepath.Separator)
	var best *Study
	var bestPath, bestFindings string
	for _, x := range all {
		if x.State != Done || !x.DICOM || x.PatientID != st.PatientID || x.Key == st.Key || x.StudyUID == st.StudyUID {
			continue
		}
		// Earlier by study date where both have one, else by when it was
		// reported.
		if st.StudyDate != "" && x.StudyDate != "" {
			if x.StudyDate >= st.StudyDate {
				continue
			}
		} else if !x.Finished.Before(st.Arrived) {
			continue
		}
		if best != nil && (x.StudyDate < best.StudyDate || (x.StudyDate == best.StudyDate && x.Finished.Before(best.Finished))) {
			continue
		}
		path := ""
		for _, f := range x.Files {
			if dicom.View(f.View) != dicom.Lateral && strings.HasPrefix(f.Path, archive) && fileExists(f.Path) {
				path = f.Path
				break
			}
		}
		doc, err := os.ReadFile(filepath.Join(x.ReportDir, "report.json"))
		if path == "" || err != nil {
			continue
		}
		var rep report.Document
		if json.Unmarshal(doc, &rep) != nil || rep.Findings == "" {
			continue
		}
		best, bestPath, bestFindings = x, path, rep.Findings
	}
	return best, bestPath, bestFindings
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (s *Service) imageRequest(st *Study, req draft.Request) (draft.Request, []*dicom.Image, []Input, error) {
	main := st.Files[0]
	req.Frontal = draft.Image{Path: main.Path}
	sc, sp, err := readSidecar(main.Path)
	if err != nil {
		return req, nil, nil, err
	}
	var attached []Input
	if sc == nil {
		return req, nil, nil, nil
	}
	add := func(p string, sidecar bool) error {
		sha, err := filehash.File(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.cfg.In, p)
		attached = append(attached, Input{Name: rel, Path: p, SHA256: sha, Sidecar: sidecar})
		return nil
	}
	if err := add(sp, true); err != nil {
		return req, nil, nil, err
	}
	req.Sections = report.Sections{Indication: sc.Indication, Technique: sc.Technique, Comparison: sc.Comparison, PriorReport: sc.PriorReport}
	dir := filepath.Dir(main.Path)
	for _, ref := range []struct {
		name string
		dst  **draft.Image
	}{{sc.Lateral, &req.Lateral}, {sc.Prior, &req.Prior}} {
		if ref.name == "" {
			continue
		}
		p := filepath.Join(dir, ref.name)
		if _, err := os.Stat(p); err != nil {
			return req, nil, nil, fmt.Errorf("%s names %s, which is not in the drop folder", sp, ref.name)
		}
		*ref.dst = &draft.Image{Path: p}
		if err := add(p, false); err != nil {
			return req, nil, nil, err
		}
	}
	return req, nil, attached, nil
}

// outputs renders the report's files.
func (s *Service) outputs(st *Study, doc *report.Document, images []*dicom.Image) (map[string][]byte, error) {
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"report.json": append(js, '\n')}
	s.runPlugins(st.Key, files["report.json"], files)
	if s.cfg.Outputs.Text {
		files["report.txt"] = []byte(reportText(doc))
	}
	if s.cfg.Outputs.SR && st.DICOM && len(images) > 0 {
		b, err := srWriter(doc, images)
		if err != nil {
			return nil, fmt.Errorf("report.dcm: %v", err)
		}
		files["report.dcm"] = b
	}
	return files, nil
}

// srWriter renders the DICOM Basic Text SR: filed with the frontal image's
// patient and study, referencing every image shown to the model.
func srWriter(doc *report.Document, images []*dicom.Image) ([]byte, error) {
	var sources []sr.Source
	for _, img := range images {
		sources = append(sources, sr.SourceOf(img))
	}
	var sentences []string
	if doc.Grounded {
		for _, s := range doc.Sentences {
			sentences = append(sentences, s.Text)
		}
	}
	d, err := sr.New(images[0].Attributes, sources, sr.Report{Findings: doc.Findings, Sentences: sentences, Generator: doc.Generator, Time: doc.CreatedAt})
	if err != nil {
		return nil, err
	}
	return d.Bytes()
}

// reportText is report.txt: the banner, the findings, what the reviewer
// must know.
func reportText(doc *report.Document) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", report.Notice)
	fmt.Fprintf(&b, "Study: %s\n", doc.StudyID)
	if doc.Study != nil {
		fmt.Fprintf(&b, "Accession: %s   Patient ID: %s   Study date: %s\n", doc.Study.AccessionNumber, doc.Study.PatientID, doc.Study.StudyDate)
	}
	if doc.Sections.Indication != "" {
		fmt.Fprintf(&b, "INDICATION: %s\n", doc.Sections.Indication)
	}
	fmt.Fprintf(&b, "\nFINDINGS:\n%s\n", doc.Findings)
	if doc.Grounded {
		for _, sn := range doc.Sentences {
			fmt.Fprintf(&b, "  - %s", sn.Text)
			for _, bx := range sn.Boxes {
				fmt.Fprintf(&b, " [%.0f %.0f %.0f %.0f]", bx[0], bx[1], bx[2], bx[3])
			}
			b.WriteString("\n")
		}
	}
	if len(doc.Warnings) > 0 {
		b.WriteString("\nWARNINGS:\n")
		for _, w := range doc.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	fmt.Fprintf(&b, "\nModel: %s (%s), %s, %s\n", doc.Model.Name, doc.Model.Quantization, doc.Generator, doc.CreatedAt.Format(time.RFC3339))
	return b.String()
}

// failStudy records a study that cannot be reported and moves its inputs
// to failed/ with the reason.
func (s *Service) failStudy(st *Study, cause error) {
	reason := strings.Join(strings.Fields(cause.Error()), " ")
	s.log.Error("study failed", "study", st.Key, "reason", reason)
	for i, f := range st.Files {
		if !strings.HasPrefix(f.Path, s.cfg.In) {
			continue
		}
		dir := filepath.Join(s.cfg.Out, "failed")
		base := freeName(dir, filepath.Base(f.Name))
		text := fmt.Sprintf("study %s: %s\nfile: %s\nfailed: %s\n", st.Key, reason, f.Name, time.Now().Format(time.RFC3339))
		if err := atomicfile.WriteFile(filepath.Join(dir, base+".reason.txt"), []byte(text)); err != nil {
			s.log.Error("cannot write a reason file", "error", err.Error())
			continue
		}
		if err := moveFile(f.Path, filepath.Join(dir, base)); err != nil {
			s.log.Error("cannot move a failed input", "file", f.Name, "error", err.Error())
			continue
		}
		s.removeEmptyParents(f.Path)
		st.Files[i].Path = filepath.Join(dir, base)
	}
	s.store.Update(st.Key, func(x *Study) error {
		x.State, x.Error, x.Finished, x.Archived = Failed, reason, time.Now(), true
		setPaths(x, st.Files)
		return nil
	})
	s.emit(Event{Kind: "failed", Study: st.Key, Message: reason})
}

// archive moves a done study's inputs still in the drop folder to its
// archive folder and records where each went.
func (s *Service) archive(st *Study) {
	files := append([]Input(nil), st.Files...)
	for i, f := range files {
		if !strings.HasPrefix(f.Path, s.cfg.In+string(filepath.Separator)) {
			continue
		}
		if _, err := os.Stat(f.Path); os.IsNotExist(err) {
			// Moved by an earlier try that died before recording it.
			if p := filepath.Join(s.archiveDir(st), f.Name); fileExists(p) {
				files[i].Path = p
			}
			continue
		}
		dst, err := s.archiveOne(st, f.Path, f.Name)
		if err != nil {
			s.log.Error("cannot archive an input; will retry", "study", st.Key, "file", f.Name, "error", err.Error())
			return
		}
		files[i].Path = dst
	}
	dir := s.archiveDir(st)
	if _, err := s.store.Update(st.Key, func(x *Study) error {
		x.Archived, x.ArchiveDir = true, dir
		setPaths(x, files)
		return nil
	}); err != nil {
		s.log.Error("store", "error", err.Error())
	}
	// Images a sidecar attached had studies of their own, never reported:
	// they are now part of this one.
	for _, f := range files {
		if f.Sidecar {
			continue
		}
		if k, _ := s.store.Instance(f.SHA256, ""); k != "" && k != st.Key {
			s.store.Update(k, func(x *Study) error {
				if x.State == Collecting || x.State == Queued {
					x.State, x.ReportDir, x.Archived = Done, st.ReportDir, true
					x.Notes = append(x.Notes, "reported as part of study "+st.Key)
				}
				return nil
			})
		}
	}
}

// setPaths records where files went, by name, in the stored study: a
// file that another step added meanwhile (a late image) keeps its record.
func setPaths(x *Study, moved []Input) {
	at := map[string]string{}
	for _, f := range moved {
		at[f.Name] = f.Path
	}
	for i, f := range x.Files {
		if p, ok := at[f.Name]; ok {
			x.Files[i].Path = p
			delete(at, f.Name)
		}
	}
	// Files the caller knew and the record did not (a sidecar's images).
	for _, f := range moved {
		if _, ok := at[f.Name]; ok {
			x.Files = append(x.Files, f)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// recover finishes what a crash interrupted: temporary files go, a running
// study whose report folder exists is done (and archived), any other
// running study is queued again (failed after maxAttempts), and done
// studies whose inputs are still in the drop folder are archived.
func (s *Service) recover() error {
	s.cleanTemp()
	all, err := s.store.All()
	if err != nil {
		return err
	}
	for _, st := range all {
		switch {
		case st.State == Running && fileExists(s.reportDir(st)):
			st, err = s.store.Update(st.Key, func(x *Study) error {
				x.State, x.ReportDir, x.Finished = Done, s.reportDir(x), time.Now()
				return nil
			})
			if err != nil {
				return err
			}
			s.log.Info("recovered: report was written before the interruption", "study", st.Key)
			s.archive(st)
		case st.State == Running && st.Attempts >= maxAttempts:
			s.failStudy(st, fmt.Errorf("the service stopped %d times while reporting this study", st.Attempts))
		case st.State == Running:
			if _, err := s.store.Update(st.Key, func(x *Study) error { x.State = Queued; return nil }); err != nil {
				return err
			}
			s.log.Info("recovered: study interrupted, queued again", "study", st.Key)
		case st.State == Done && !st.Archived:
			s.archive(st)
		}
	}
	return nil
}

// retain purges archived inputs older than the configured age, then the
// oldest beyond the size budget. Only the archive is purged: it holds
// inputs of finished studies, never of a study still to report.
func (s *Service) retain(now time.Time) {
	root := filepath.Join(s.cfg.Out, "archive")
	days, err := os.ReadDir(root)
	if err != nil {
		return
	}
	var names []string
	for _, d := range days {
		if _, err := time.Parse("2006-01-02", d.Name()); err == nil && d.IsDir() {
			names = append(names, d.Name())
		}
	}
	sort.Strings(names) // oldest first
	r := s.cfg.Retention
	if r.ArchiveDays > 0 {
		cut := now.AddDate(0, 0, -r.ArchiveDays).Format("2006-01-02")
		for len(names) > 0 && names[0] < cut {
			s.purge(filepath.Join(root, names[0]), "older than the retention age")
			names = names[1:]
		}
	}
	if r.ArchiveMaxGB > 0 {
		budget := int64(r.ArchiveMaxGB * (1 << 30))
		sizes := make([]int64, len(names))
		var total int64
		for i, n := range names {
			sizes[i] = dirSize(filepath.Join(root, n))
			total += sizes[i]
		}
		// The newest day stays even when it alone is over budget.
		for i := 0; total > budget && i < len(names)-1; i++ {
			s.purge(filepath.Join(root, names[i]), "over the archive's disk budget")
			total -= sizes[i]
		}
	}
}

func (s *Service) purge(dir, why string) {
	if err := os.RemoveAll(dir); err != nil {
		s.log.Error("cannot purge the archive", "dir", dir, "error", err.Error())
		return
	}
	s.log.Info("archive purged", "dir", dir, "why", why)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
