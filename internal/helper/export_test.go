package helper

// Internals the external tests (package helper_test) check.
var (
	DialSSH       = dialSSH       // open an SSH connection to a target (host key pinning)
	JSONUnmarshal = jsonUnmarshal // read a stored record
	PurposePrefix = purposePrefix // what a helper's ledger entries start with
	SlotHolder    = slotHolder    // the helper holding the one slot
)
