// Package daemon serves the Docker Engine API over HTTPS with mutual TLS.
//
// Routes live in per-resource tables (router/system, router/container,
// router/image); each router declares the Backend it consumes and never
// imports the port layer. The server alone registers the tables with
// gorilla/mux, both unversioned and under /v{version}/, negotiates the API
// version (middleware), caps request bodies, and turns a handler's error
// into a status (httpstatus.FromError, from the error's class) and a JSON
// {"message": ...} body with the error's own text.
//
// Callers' checklist: build the three Backends (backends.New), a TLS config
// (ServerTLSConfig: TLS >= 1.2, client certificates required and checked
// against the VCH's CA), then New(Config) and Serve(ctx); cancelling ctx
// shuts the server down gracefully.
//
// Routes: GET|HEAD /_ping, GET /version, GET /info; POST /containers/create,
// GET /containers/json, GET /containers/{name}/json, POST
// /containers/{name}/{start,stop,restart,kill,wait,rename,resize,attach},
// GET /containers/{name}/logs, DELETE /containers/{name}; POST
// /images/create, GET /images/json, GET /images/{name}/json, POST
// /images/{name}/tag, DELETE /images/{name}. Other Docker endpoints answer
// 501 with a message naming them; unknown paths answer 404.
package daemon
