package dicom

import "fmt"

// Tag is a data element tag: group in the high 16 bits, element in the low.
type Tag uint32

// T builds a tag from its group and element numbers.
func T(group, element uint16) Tag { return Tag(uint32(group)<<16 | uint32(element)) }

// Group is the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", uint16(t>>16), uint16(t)) }

// The tags maira reads. The names are PS3.6's keywords.
var (
	TransferSyntaxUID = T(0x0002, 0x0010)

	SpecificCharacterSet    = T(0x0008, 0x0005)
	SOPClassUID             = T(0x0008, 0x0016)
	SOPInstanceUID          = T(0x0008, 0x0018)
	StudyDate               = T(0x0008, 0x0020)
	AccessionNumber         = T(0x0008, 0x0050)
	Modality                = T(0x0008, 0x0060)
	PresentationIntentType  = T(0x0008, 0x0068)
	PatientName             = T(0x0010, 0x0010)
	PatientID               = T(0x0010, 0x0020)
	BodyPartExamined        = T(0x0018, 0x0015)
	ViewPosition            = T(0x0018, 0x5101)
	StudyInstanceUID        = T(0x0020, 0x000D)
	SeriesInstanceUID       = T(0x0020, 0x000E)
	SamplesPerPixel         = T(0x0028, 0x0002)
	PhotometricInterp       = T(0x0028, 0x0004)
	PlanarConfiguration     = T(0x0028, 0x0006)
	NumberOfFrames          = T(0x0028, 0x0008)
	Rows                    = T(0x0028, 0x0010)
	Columns                 = T(0x0028, 0x0011)
	BitsAllocated           = T(0x0028, 0x0100)
	BitsStored              = T(0x0028, 0x0101)
	HighBit                 = T(0x0028, 0x0102)
	PixelRepresentation     = T(0x0028, 0x0103)
	WindowCenter            = T(0x0028, 0x1050)
	WindowWidth             = T(0x0028, 0x1051)
	RescaleIntercept        = T(0x0028, 0x1052)
	RescaleSlope            = T(0x0028, 0x1053)
	VOILUTFunction          = T(0x0028, 0x1056)
	ModalityLUTSequence     = T(0x0028, 0x3000)
	LUTDescriptor           = T(0x0028, 0x3002)
	LUTData                 = T(0x0028, 0x3006)
	VOILUTSequence          = T(0x0028, 0x3010)
	RequestedProcedureDesc  = T(0x0032, 0x1060)
	RequestAttributesSeq    = T(0x0040, 0x0275)
	ReasonForRequestedProc  = T(0x0040, 0x1002)
	PixelData               = T(0x7FE0, 0x0010)
	itemTag                 = T(0xFFFE, 0xE000)
	itemDelimitationTag     = T(0xFFFE, 0xE00D)
	sequenceDelimitationTag = T(0xFFFE, 0xE0DD)
)

// implicitVR gives the VR of the elements maira reads where the transfer
// syntax does not spell it out (implicit VR little endian). Values of tags
// not listed stay raw bytes; an undefined length marks a sequence anyway.
var implicitVR = map[Tag]string{
	SpecificCharacterSet: "CS", SOPClassUID: "UI", SOPInstanceUID: "UI", StudyDate: "DA",
	AccessionNumber: "SH", Modality: "CS", PresentationIntentType: "CS", PatientName: "PN",
	PatientID: "LO", BodyPartExamined: "CS", ViewPosition: "CS", StudyInstanceUID: "UI",
	SeriesInstanceUID: "UI", SamplesPerPixel: "US", PhotometricInterp: "CS", PlanarConfiguration: "US",
	NumberOfFrames: "IS", Rows: "US", Columns: "US", BitsAllocated: "US", BitsStored: "US",
	HighBit: "US", PixelRepresentation: "US", WindowCenter: "DS", WindowWidth: "DS",
	RescaleIntercept: "DS", RescaleSlope: "DS", VOILUTFunction: "CS", ModalityLUTSequence: "SQ",
	LUTDescriptor: "US", LUTData: "OW", VOILUTSequence: "SQ", RequestedProcedureDesc: "LO",
	RequestAttributesSeq: "SQ", ReasonForRequestedProc: "LO", PixelData: "OW",
}
