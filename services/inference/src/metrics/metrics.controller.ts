import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { SCOPES } from '@lvseg/config';
import { RequireScope } from '../auth/route-access';
import { MetricsService } from './metrics.service';

@RequireScope(SCOPES.read)
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text exposition. */
  @Get('metrics')
  @ApiTags('operations')
  @ApiOperation({ summary: 'Prometheus metrics: requests and latency by route and status, inference time, batch size, queue, served model' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format' })
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
