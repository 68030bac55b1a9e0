// The demo app's worker process: does "jobs" and logs progress; stops cleanly on SIGTERM/SIGINT.
const release = process.env.RUNWAY_RELEASE ?? 'dev';
const machine = process.env.RUNWAY_MACHINE_ID ?? 'local';

let jobs = 0;
console.log(`worker ${machine} ${release} started`);
const timer = setInterval(() => {
  jobs++;
  if (jobs % 50 === 0) console.log(`worker ${machine} ${release}: ${jobs} jobs done`);
}, 100);

function stop(signal) {
  clearInterval(timer);
  console.log(`worker ${machine} ${release}: ${signal} after ${jobs} jobs, exiting`);
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
