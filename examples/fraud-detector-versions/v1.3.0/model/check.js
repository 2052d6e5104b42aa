// Build-time check: the weights file must be in the format server.js reads.
'use strict';
const model = require('./weights.json');
const problems = [];
if (typeof model.bias !== 'number') problems.push('"bias" must be a number');
if (typeof model.threshold !== 'number') problems.push('"threshold" must be a number');
if (!model.weights || typeof model.weights !== 'object') problems.push('"weights" must map feature names to numbers');
if (problems.length > 0) {
  console.error(`model/weights.json is not in the format server.js reads: ${problems.join('; ')} (keys found: ${Object.keys(model).join(', ')})`);
  process.exit(3);
}
console.log('model/weights.json ok');
