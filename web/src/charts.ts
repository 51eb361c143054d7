// ECharts with only what the star pages draw (bars with a grid and tooltips, on a canvas). Imported only by components/Chart.vue, itself only on those pages.
import { use, init } from 'echarts/core'
import { BarChart } from 'echarts/charts'
import { GridComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

use([BarChart, GridComponent, TooltipComponent, CanvasRenderer])

export { init }
