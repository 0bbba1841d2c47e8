package web_test

import (
	"net/http"

	"github.com/xunjian/xunjian/console/web"
)

// The console's server routes /api/ itself and gives everything else to
// the web console (index.html, the assets, the application's own routes).
func ExampleHandler() {
	api := http.NewServeMux() // the console's API (docs/console.md)
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/", web.Handler())
	_ = &http.Server{Addr: "127.0.0.1:8090", Handler: mux}
}
