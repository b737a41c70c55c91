import { describeRouteBackendContract } from '../backend-contract.test-helper.js';

describeRouteBackendContract('builtin');
