package daemon

// unsupported are Docker API endpoints vch knows but does not serve yet:
// they answer 501 with a message naming them, not 404.
var unsupported = []struct{ prefix, what string }{
	{"/exec", "exec"},
	{"/containers/{name:.*}/exec", "exec"},
	{"/build", "build (VIC does not build images: build elsewhere and push)"},
	{"/networks", "networks"},
	{"/volumes", "volumes"},
	{"/images/search", "image search"},
	{"/images/load", "image load"},
	{"/images/get", "image save"},
	{"/images/{name:.*}/push", "image push"},
	{"/images/{name:.*}/history", "image history"},
	{"/images/{name:.*}/get", "image save"},
	{"/auth", "registry login"},
	{"/swarm", "swarm"},
	{"/nodes", "swarm nodes"},
	{"/services", "swarm services"},
	{"/tasks", "swarm tasks"},
	{"/secrets", "swarm secrets"},
	{"/configs", "swarm configs"},
	{"/plugins", "plugins"},
	{"/session", "build sessions (VIC does not build images: build elsewhere and push)"},
	{"/grpc", "BuildKit builds (VIC does not build images: build elsewhere and push)"},
	{"/distribution", "distribution inspect"},
}
