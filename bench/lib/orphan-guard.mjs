// Preloaded (`node --import`) into every process the bench starts: the bench holds our stdin open, so when
// the bench goes away — however it dies, SIGKILL included — stdin ends and this process exits too.
const bye = () => process.exit(1);
process.stdin.on('end', bye);
process.stdin.on('close', bye);
process.stdin.on('error', bye);
process.stdin.resume();
