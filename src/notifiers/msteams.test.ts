import { describe, expect, it } from 'vitest';
import { createMSTeamsNotifier, isTeamsWorkflowUrl } from './msteams.js';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';

const server = recordingServers(() => ({ status: 202 }));

const settings = (address: string) => ({
  id: 'test/teams',
  type: 'msteams',
  address,
  channel: 'general',
  username: 'flagger',
});

describe('msteams notifier', () => {
  it('sends a MessageCard to a legacy connector URL', async () => {
    const hook = await server();
    await createMSTeamsNotifier(settings(`${hook.url}/webhookb2/abc/IncomingWebhook/def`)).send({
      ...failedCanaryMessage,
      severity: 'info',
    });
    const [request] = hook.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/webhookb2/abc/IncomingWebhook/def' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual({
      '@type': 'MessageCard',
      '@context': 'http://schema.org/extensions',
      themeColor: '0076D7',
      summary: 'podinfo.test',
      sections: [
        {
          activityTitle: 'Failed checks threshold reached 5',
          activitySubtitle: 'podinfo.test',
          facts: [
            { name: 'Target', value: 'Deployment/podinfo.test' },
            { name: 'Failed checks threshold', value: '5' },
          ],
        },
      ],
    });
  });

  it('colours error messages FF0000', async () => {
    const hook = await server();
    await createMSTeamsNotifier(settings(hook.url)).send(failedCanaryMessage);
    expect(JSON.parse(hook.requests[0]!.body)).toMatchObject({ themeColor: 'FF0000' });
  });

  it('sends an Adaptive Card message to a Workflows URL', async () => {
    const hook = await server();
    await createMSTeamsNotifier(
      settings(`${hook.url}/workflows/123/triggers/manual/paths/invoke?sig=s`),
    ).send(failedCanaryMessage);
    expect(hook.requests[0]!.path).toBe('/workflows/123/triggers/manual/paths/invoke?sig=s');
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              {
                type: 'TextBlock',
                text: 'Failed checks threshold reached 5',
                weight: 'Bolder',
                size: 'Medium',
                wrap: true,
                color: 'Attention',
              },
              { type: 'TextBlock', text: 'podinfo.test', isSubtle: true, spacing: 'None', wrap: true },
              {
                type: 'FactSet',
                facts: [
                  { title: 'Target', value: 'Deployment/podinfo.test' },
                  { title: 'Failed checks threshold', value: '5' },
                ],
              },
            ],
          },
        },
      ],
    });
  });

  it('recognises Workflows and Logic Apps addresses', () => {
    expect(
      isTeamsWorkflowUrl(
        'https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01',
      ),
    ).toBe(true);
    expect(
      isTeamsWorkflowUrl(
        'https://default0123.45.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke',
      ),
    ).toBe(true);
    expect(isTeamsWorkflowUrl('https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d')).toBe(
      false,
    );
    expect(isTeamsWorkflowUrl('not a url')).toBe(false);
  });
});
