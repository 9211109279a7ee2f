package watcher

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"maira/dicom"
	"maira/internal/atomicfile"
	"maira/quant/testmodel"
)

// WriteDemoStudies writes n synthetic studies into dir, for the demo and
// the tests: of every three, one DICOM study with a frontal (PA) and a
// lateral (LL) image, one DICOM study with a frontal image alone, and one
// PNG with a sidecar giving its indication. Each file is written under a
// hidden name and renamed into place, as a well-behaved sender does.
// It returns the files written, by study.
func WriteDemoStudies(dir string, n, width, height int, seed uint64) ([][]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var studies [][]string
	for i := range n {
		id := seed*100000 + uint64(i)
		img, err := testmodel.Radiograph(width, height, 16, id)
		if err != nil {
			return nil, err
		}
		g := img.(*image.Gray16)
		pix := make([]uint16, width*height)
		for k := range pix {
			pix[k] = uint16(g.Pix[2*k])<<8 | uint16(g.Pix[2*k+1])
		}
		var files []string
		switch i % 3 {
		case 0, 1:
			study := dicom.NewUID()
			views := []string{"PA"}
			if i%3 == 0 {
				views = append(views, "LL")
			}
			for k, view := range views {
				name := filepath.Join(dir, fmt.Sprintf("demo%03d-%s.dcm", i, view))
				err := dicom.WriteRadiograph(name, dicom.Radiograph{
					Width: width, Height: height, Pix: pix, BitsStored: 12,
					PatientID: fmt.Sprintf("DEMO-%05d", id), PatientName: "Demo^Patient",
					AccessionNumber: fmt.Sprintf("ACC%06d", id), StudyInstanceUID: study,
					StudyDate: "20261127", StudyTime: "101500", SeriesNumber: k + 1, InstanceNumber: 1,
					ViewPosition: view, Indication: "Cough and fever.", WindowCenter: 2048, WindowWidth: 4096,
				})
				if err != nil {
					return nil, err
				}
				files = append(files, name)
			}
		case 2:
			name := filepath.Join(dir, fmt.Sprintf("demo%03d.png", i))
			if err := testmodel.WriteRadiograph(name, width, height, 16, id); err != nil {
				return nil, err
			}
			side, _ := json.Marshal(Sidecar{Schema: SidecarSchema, Indication: "Shortness of breath.", Technique: "PA chest radiograph."})
			sp := filepath.Join(dir, fmt.Sprintf("demo%03d.json", i))
			// The sidecar first: the image's study reads it when it is queued.
			if err := atomicfile.WriteFile(sp, side); err != nil {
				return nil, err
			}
			files = append(files, sp, name)
		}
		studies = append(studies, files)
	}
	return studies, nil
}
