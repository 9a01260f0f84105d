package network_test

import (
	"context"
	"fmt"

	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/network/fake"
)

// The life of one container's network: join at create, attach at start
// (done by the compute provider), detach at exit, leave at rm.
func Example() {
	ctx := context.Background()
	var p network.Provider = fake.New()
	const id = "4a1f9d3c0b7e2f6a8c5d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
	if _, err := p.Join(ctx, id, network.EndpointSpec{Network: network.BridgeName, Ports: []network.PortBinding{
		{Proto: "tcp", ContainerPort: 80, HostPort: 8080},
	}}); err != nil {
		panic(err)
	}
	nics, err := p.Attach(ctx, id)
	if err != nil {
		panic(err)
	}
	eps, _ := p.Endpoints(ctx, id)
	fmt.Println(nics[0].Address, "via", nics[0].Gateway, nics[0].MAC)
	fmt.Println(eps[0].Bound[0])
	_ = p.Detach(ctx, id)
	eps, _ = p.Endpoints(ctx, id)
	fmt.Println("active after detach:", eps[0].Active)
	_ = p.Leave(ctx, id, "")
	eps, _ = p.Endpoints(ctx, id)
	fmt.Println("endpoints after leave:", len(eps))
	// Output:
	// 172.16.0.2/16 via 172.16.0.1 02:42:ac:10:00:02
	// 0.0.0.0:8080->80/tcp
	// active after detach: false
	// endpoints after leave: 0
}
