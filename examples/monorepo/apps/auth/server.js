// Answers with the service name and the NANOKIT_* variables it received.
const http = require("http");
const port = process.env.PORT || 3001;
http.createServer((req, res) => {
  const vars = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("NANOKIT_")));
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ service: "auth", path: req.url, env: vars }));
}).listen(port, () => console.log("auth listening on " + port));
