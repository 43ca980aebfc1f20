package registration

// Catalog keys of the upload check beyond the ones in validate.go. Their
// texts are in templates/messages/{id,en}/upload.json; UploadErrorKeys lists
// them for the catalog tests, as ErrorKeys does for the others.
const (
	// The PDF cannot be checked: encrypted, a compressed stream that does
	// not decode, or more decoding than the limits allow.
	KeyFileUncheckable = "reg.error.file_uncheckable"
	// A PDF with links or actions that reach outside the document: open a
	// web address or another file, submit or import form data.
	KeyFileLinks = "reg.error.file_links"
	// Data after the format's end marker (JPEG EOI, PNG IEND, the last PDF
	// %%EOF), or another file hidden in the upload (a ZIP end record, a PDF
	// header inside an image).
	KeyFileHiddenData = "reg.error.file_hidden_data"
	// An image wider, taller or larger than MaxImageSide / MaxImagePixels.
	KeyFileImageTooLarge = "reg.error.file_image_too_large"
)

// UploadErrorKeys lists every key above.
var UploadErrorKeys = []string{KeyFileUncheckable, KeyFileLinks, KeyFileHiddenData, KeyFileImageTooLarge}
