// Answers with the service name and the NANOKIT_* variables it received.
const http = require("http");
const port = process.env.PORT || 3000;
http.createServer((req, res) => {
  const vars = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("NANOKIT_")));
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ service: "api", path: req.url, env: vars }));
}).listen(port, () => console.log("api listening on " + port));
