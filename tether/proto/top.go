package proto

// ReqTop (global request): payload TopRequest; the reply payload is a
// TopReply, or on failure the error text. The tether lists the container's
// processes (not itself, not kernel threads) as ps would with Args.
const ReqTop = "vch-top"

// TopRequest is the payload of ReqTop.
type TopRequest struct {
	Args []string `json:"args,omitempty"` // ps options; empty: -ef
}

// TopReply answers ReqTop, in docker top's shape.
type TopReply struct {
	Titles    []string   `json:"titles"`
	Processes [][]string `json:"processes"`
}
