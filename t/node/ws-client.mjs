// ws-client.mjs: MQTT.js over WebSocket, for t/t4020-ws.t.
//
//	node ws-client.mjs URL CLIENT-ID VERSION
//
// Connects to URL (ws://127.0.0.1:PORT/mqtt) with MQTT VERSION (3, 4 or 5),
// subscribes to js/in and js/self/CLIENT-ID at QoS 1, prints "ready", then
// publishes "from-js" to js/out (QoS 1) and "self" to its own topic (QoS 2)
// and prints "got TOPIC PAYLOAD" for each message it receives.  Once it has
// one on js/in and its own, it disconnects and exits 0.  Any error, a
// close before that, or 10 s without getting there, exits 1.
import mqtt from "mqtt";

const [url, clientId, version] = process.argv.slice(2);
if (!url || !clientId) {
	console.error("usage: node ws-client.mjs URL CLIENT-ID [3|4|5]");
	process.exit(2);
}
const self = `js/self/${clientId}`;
const want = new Set(["js/in", self]);
const fail = (why) => {
	console.log(`error ${why}`);
	process.exit(1);
};
setTimeout(() => fail("timeout"), 10000).unref();

const c = mqtt.connect(url, {
	clientId,
	protocolVersion: Number(version || 5),
	// MQTT 3.1 has its own protocol name (and subprotocol mqttv3.1).
	...(version === "3" ? { protocolId: "MQIsdp" } : {}),
	reconnectPeriod: 0,
	connectTimeout: 5000,
	clean: true,
});
c.on("error", (e) => fail(e.message));
c.on("close", () => {
	if (want.size !== 0)
		fail("closed");
});
c.on("message", (topic, payload) => {
	console.log(`got ${topic} ${payload.toString()}`);
	want.delete(topic);
	if (want.size === 0)
		c.end(false, {}, () => process.exit(0));
});
c.on("connect", async () => {
	try {
		await c.subscribeAsync(["js/in", self], { qos: 1 });
		console.log("ready");
		await c.publishAsync("js/out", "from-js", { qos: 1 });
		await c.publishAsync(self, "self", { qos: 2 });
	} catch (e) {
		fail(e.message);
	}
});
