// The polling figure's baseline: a bare Express 5 hello-world, in a process of its own like the API under test.
import type { AddressInfo } from "node:net";
import express from "express";

const app = express();
app.get("/", (_req, res) => {
  res.send("Hello World!");
});
const server = app.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on("disconnect", () => process.exit(0));
