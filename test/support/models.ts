export { publishSeededModel } from '../../services/inference/src/testing/seeded-model';
