package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"maira/models/draft"
)

// imageExts are the image files ListImages takes.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".dcm": true, ".dicom": true}

// ListImages returns the PNG, JPEG and DICOM files in dir, sorted.
func ListImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var imgs []string
	for _, e := range entries {
		if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			imgs = append(imgs, filepath.Join(dir, e.Name()))
		}
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: no images (PNG, JPEG or DICOM files)", dir)
	}
	sort.Strings(imgs)
	return imgs, nil
}

// DraftAll drafts each image (a frontal image alone; the study id is the
// file name without its extension) with e. progress, if not nil, hears of
// each draft.
func DraftAll(e *draft.Engine, imgs []string, maxTokens int, progress func(i int, g Generation)) ([]Generation, error) {
	var gens []Generation
	for i, img := range imgs {
		id := strings.TrimSuffix(filepath.Base(img), filepath.Ext(img))
		doc, err := e.Report(draft.Request{StudyID: id, Frontal: draft.Image{Path: img}, MaxTokens: maxTokens}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", e.Model.Path, img, err)
		}
		t := doc.Timings
		g := Generation{ID: id, Findings: doc.Findings, TokenIDs: doc.TokenIDs,
			EncodeMS: t.EncodeMS, PrefillTokensPerS: t.PrefillTokensPerS, DecodeTokensPerS: t.DecodeTokensPerS,
			TotalMS: t.TotalMS, GeneratedTokens: t.GeneratedTokens}
		gens = append(gens, g)
		if progress != nil {
			progress(i, g)
		}
	}
	return gens, nil
}

// CompareStudies pairs two models' drafts for Evaluate: the baseline's
// drafts are the references, the model's the hypotheses.
func CompareStudies(base, model []Generation) []Study {
	studies := make([]Study, len(base))
	for i := range base {
		studies[i] = Study{ID: model[i].ID, Hyp: model[i].Findings, Refs: []string{base[i].Findings}}
	}
	return studies
}
